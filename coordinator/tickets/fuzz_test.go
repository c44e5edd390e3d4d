package tickets

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/wire"
)

// FuzzFileAgent decodes what an agent sends (as the API does) and files
// it in an in-memory store: nothing panics, a ticket refused by
// CheckAgentTicket is not filed, and one that is filed reads back as sent
// and is filed once.
func FuzzFileAgent(f *testing.F) {
	for _, seed := range []string{
		`{"id":"0123456789abcdef0123456789abcdef","title":"Printer","priority":"high","user":"ACME\\alice","chat":[{"role":"user","text":"help"}]}`,
		`{"id":"0123456789abcdef0123456789abcdef","title":"x","priority":"low","attachments":[{"name":"a.txt","type":"text/plain","data":"aGk="}]}`,
		`{"id":"0123456789abcdef0123456789abcdef","title":"x","priority":"low","attachments":[{"name":"a.png","type":"image/png","data":"PGh0bWw+"}]}`,
		`{"id":"ABC","title":"","priority":"asap"}`,
		`{"id":"0123456789abcdef0123456789abcdef","title":"\u0000","priority":"normal","chat":[{"role":"system","text":"x"}]}`,
	} {
		f.Add([]byte(seed))
	}
	db, err := store.OpenInMemory(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	s, err := Open(db, nil)
	if err != nil {
		f.Fatal(err)
	}
	n := 0
	f.Fuzz(func(t *testing.T, b []byte) {
		var at wire.AgentTicket
		if json.Unmarshal(b, &at) != nil {
			return
		}
		n++
		dev := Device{ID: "dev-" + string(rune('a'+n%26)) + string(rune('a'+n/26%26)), Company: "acme"}
		checked := CheckAgentTicket(at)
		tk, dup, err := s.FileAgent(dev, at)
		if (checked == nil) != (err == nil) {
			t.Fatalf("CheckAgentTicket %v, FileAgent %v", checked, err)
		}
		if err != nil {
			return
		}
		got, err := s.Get(tk.Number)
		if err != nil {
			t.Fatal(err)
		}
		if !dup && (got.Title != at.Title || got.Description != at.Description || len(got.Attachments) != len(at.Attachments) ||
			!cmp.Equal(got.Chat, at.Chat, cmpopts.EquateEmpty(), cmp.Comparer(func(a, b wire.ChatLine) bool { return a.Role == b.Role && a.Text == b.Text && a.Time.Equal(b.Time) }))) {
			t.Fatalf("filed %+v, read %+v", at, got)
		}
		again, dup2, err := s.FileAgent(dev, at)
		if err != nil || !dup2 || again.Number != tk.Number {
			t.Fatalf("filed again: %s %v %v", again.Number, dup2, err)
		}
	})
}
