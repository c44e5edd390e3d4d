package tickets

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/wire"
)

var (
	acmePC = Device{ID: "dev-acme", Name: "pc-acme", Company: "acme"}
	t0     = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
)

func memStore(t testing.TB) (*Store, store.DB) {
	t.Helper()
	db, err := store.OpenInMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := Open(db, func() time.Time { return t0 })
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}

func id(i int) string { return fmt.Sprintf("%032x", i) }

// PNG returns a small valid PNG image.
func PNG(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 255, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func agentTicket(i int) wire.AgentTicket {
	return wire.AgentTicket{ID: id(i), Title: "Printer offline", Description: "It blinks orange", Priority: wire.PriorityHigh,
		User: `ACME\alice`, Created: t0.Add(-time.Minute),
		Chat: []wire.ChatLine{{Role: "user", Text: "my printer does nothing", Time: t0}, {Role: "assistant", Text: "Is it on?", Time: t0}}}
}

// TestFileAgentOnce: an agent's ticket is filed once per (device, ID); the
// same ID from another device is another ticket.
func TestFileAgentOnce(t *testing.T) {
	leak.Check(t)
	s, _ := memStore(t)
	a, dup, err := s.FileAgent(acmePC, agentTicket(1))
	if err != nil || dup {
		t.Fatalf("first filing: dup %v, %v", dup, err)
	}
	if a.Number != "T-1001" || a.Status != wire.StatusOpen || a.Company != "acme" || a.SummaryAt != wire.SummaryPending || a.Source != srcAgent {
		t.Errorf("filed %+v", a)
	}
	b, dup, err := s.FileAgent(acmePC, agentTicket(1))
	if err != nil || !dup || b.Number != a.Number {
		t.Fatalf("second filing: %s dup %v, %v", b.Number, dup, err)
	}
	c, dup, err := s.FileAgent(Device{ID: "dev-other", Company: "globex"}, agentTicket(1))
	if err != nil || dup || c.Number != "T-1002" {
		t.Fatalf("the same id from another device: %s dup %v, %v", c.Number, dup, err)
	}
	l, err := s.List(Query{}, nil)
	if err != nil || l.Total != 2 {
		t.Fatalf("list: %d, %v", l.Total, err)
	}
	got, err := s.Get(a.Number)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(agentTicket(1).Chat, got.Chat); diff != "" {
		t.Errorf("chat (-filed +stored):\n%s", diff)
	}
}

// TestAgentTicketBounds: every bound of what an agent files is refused.
func TestAgentTicketBounds(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", wire.MaxTicketText+1)
	for name, mod := range map[string]func(*wire.AgentTicket){
		"id":          func(a *wire.AgentTicket) { a.ID = "ABC" },
		"title":       func(a *wire.AgentTicket) { a.Title = strings.Repeat("t", wire.MaxTicketTitle+1) },
		"empty title": func(a *wire.AgentTicket) { a.Title = " " },
		"control":     func(a *wire.AgentTicket) { a.Title = "a\x1bb" },
		"description": func(a *wire.AgentTicket) { a.Description = long },
		"priority":    func(a *wire.AgentTicket) { a.Priority = "asap" },
		"user":        func(a *wire.AgentTicket) { a.User = strings.Repeat("u", maxUser+1) },
		"chat lines":  func(a *wire.AgentTicket) { a.Chat = make([]wire.ChatLine, wire.MaxTicketChat+1) },
		"chat role":   func(a *wire.AgentTicket) { a.Chat[0].Role = "system" },
		"chat text":   func(a *wire.AgentTicket) { a.Chat[0].Text = long },
		"attachments": func(a *wire.AgentTicket) {
			a.Attachments = slices.Repeat([]wire.Attachment{{Name: "a.txt", Type: "text/plain", Data: []byte("x")}}, wire.MaxTicketAttachments+1)
		},
		"attachment size": func(a *wire.AgentTicket) {
			a.Attachments = []wire.Attachment{{Name: "a.txt", Type: "text/plain", Data: make([]byte, wire.MaxAttachmentSize+1)}}
		},
		"attachment type": func(a *wire.AgentTicket) {
			a.Attachments = []wire.Attachment{{Name: "a.html", Type: "text/html", Data: []byte("<script>")}}
		},
		"attachment path": func(a *wire.AgentTicket) {
			a.Attachments = []wire.Attachment{{Name: "../a.txt", Type: "text/plain", Data: []byte("x")}}
		},
		"image that is not": func(a *wire.AgentTicket) {
			a.Attachments = []wire.Attachment{{Name: "s.png", Type: "image/png", Data: []byte("<html><script>alert(1)</script>")}}
		},
	} {
		a := agentTicket(1)
		mod(&a)
		if err := CheckAgentTicket(a); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if err := CheckAgentTicket(agentTicket(1)); err != nil {
		t.Errorf("a good ticket: %v", err)
	}
	pasted := agentTicket(1)
	pasted.Title = "Drucker\tdruckt\u00a0nicht – ✗"
	if err := CheckAgentTicket(pasted); err != nil {
		t.Errorf("a title with a tab, a no-break space and symbols: %v", err)
	}
}

// TestDurable: tickets, comments, attachments, updates and summaries
// written to a Badger store on disk are there after it is reopened.
func TestDurable(t *testing.T) {
	leak.Check(t)
	dir := t.TempDir()
	db, err := store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), (3*chunk+100)/16) // four chunks
	at := agentTicket(7)
	at.Attachments = []wire.Attachment{{Name: "screen.png", Type: "image/png", Data: PNG(t)}, {Name: "diag.json", Type: "application/json", Data: big}}
	a, _, err := s.FileAgent(acmePC, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Update(a.Number, wire.TicketUpdate{Status: wire.StatusInProgress, Assignee: "bob", Session: "sess-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Comment(a.Number, "bob", "Replaced the toner cartridge"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetSummary(a.Number, "The printer is offline."); err != nil {
		t.Fatal(err)
	}
	before, err := s.Get(a.Number)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err = Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, err := s.Get(a.Number)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("after reopening (-before +after):\n%s", diff)
	}
	if after.Status != wire.StatusInProgress || after.Assignee != "bob" || len(after.Comments) != 1 || after.SummaryAt != wire.SummaryDone || len(after.Attachments) != 2 {
		t.Errorf("reopened ticket %+v", after)
	}
	_, data, err := s.Attachment(a.Number, 1)
	if err != nil || !bytes.Equal(data, big) {
		t.Errorf("attachment 1: %d bytes, %v", len(data), err)
	}
	if l, _ := s.List(Query{Text: "TONER"}, nil); l.Total != 1 {
		t.Errorf("a comment is not searchable after reopening: %d", l.Total)
	}
	// Numbering goes on.
	b, err := s.Create("bob", wire.TicketCreate{Title: "New laptop", Company: "acme"}, Device{})
	if err != nil || b.Number != "T-1002" {
		t.Errorf("next ticket %q, %v", b.Number, err)
	}
}

// TestListFilters: each filter, the text search and the visibility.
func TestListFilters(t *testing.T) {
	leak.Check(t)
	s, _ := memStore(t)
	globex := Device{ID: "dev-globex", Name: "pc-globex", Company: "globex"}
	for i := range 6 {
		dev := acmePC
		if i%2 == 1 {
			dev = globex
		}
		at := agentTicket(i)
		at.Title = fmt.Sprintf("ticket %d", i)
		at.Priority = wire.Priorities[i%4]
		if _, _, err := s.FileAgent(dev, at); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Update("T-1003", wire.TicketUpdate{Status: wire.StatusResolved, Assignee: "carol"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Comment("T-1004", "carol", "Needs a new Fuser unit"); err != nil {
		t.Fatal(err)
	}
	numbers := func(l wire.TicketList) []string {
		var out []string
		for _, t := range l.Tickets {
			out = append(out, t.Number)
		}
		return out
	}
	for _, tc := range []struct {
		q       Query
		visible func(string) bool
		want    []string
	}{
		{Query{}, nil, []string{"T-1006", "T-1005", "T-1004", "T-1003", "T-1002", "T-1001"}},
		{Query{Company: "acme"}, nil, []string{"T-1005", "T-1003", "T-1001"}},
		{Query{}, func(c string) bool { return c == "globex" }, []string{"T-1006", "T-1004", "T-1002"}},
		{Query{Status: wire.StatusResolved}, nil, []string{"T-1003"}},
		{Query{Assignee: "carol"}, nil, []string{"T-1003"}},
		{Query{Priority: wire.PriorityLow}, nil, []string{"T-1005", "T-1001"}},
		{Query{Device: "dev-globex"}, nil, []string{"T-1006", "T-1004", "T-1002"}},
		{Query{Text: "TICKET 4"}, nil, []string{"T-1005"}},
		{Query{Text: "fuser"}, nil, []string{"T-1004"}},
		{Query{Text: "nothing like it"}, nil, nil},
		{Query{Limit: 2}, nil, []string{"T-1006", "T-1005"}},
	} {
		l, err := s.List(tc.q, tc.visible)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, numbers(l)); diff != "" {
			t.Errorf("%+v (-want +got):\n%s", tc.q, diff)
		}
		if tc.q.Limit == 0 && l.Total != len(tc.want) {
			t.Errorf("%+v: total %d", tc.q, l.Total)
		}
	}
	if _, err := s.List(Query{Status: "lost"}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown status: %v", err)
	}
}

// TestUpdateCommentAttach: changes, their bounds and the change events.
func TestUpdateCommentAttach(t *testing.T) {
	leak.Check(t)
	s, _ := memStore(t)
	a, err := s.Create("bob", wire.TicketCreate{Title: "VPN drops", Company: "acme"}, Device{})
	if err != nil {
		t.Fatal(err)
	}
	ch := s.Changed()
	got, changed, err := s.Update(a.Number, wire.TicketUpdate{Priority: wire.PriorityUrgent, Assignee: "bob"})
	if err != nil || !slices.Equal(changed, []string{"priority", "assignee"}) || got.Version != 2 {
		t.Fatalf("update: %v %+v %v", changed, got, err)
	}
	select {
	case <-ch:
	default:
		t.Error("an update did not wake Changed")
	}
	if _, changed, err := s.Update(a.Number, wire.TicketUpdate{Priority: wire.PriorityUrgent}); err != nil || changed != nil {
		t.Errorf("no change: %v, %v", changed, err)
	}
	if got, _, _ := s.Update(a.Number, wire.TicketUpdate{Assignee: "-"}); got.Assignee != "" {
		t.Errorf("unassigned: %q", got.Assignee)
	}
	for _, u := range []wire.TicketUpdate{{Status: "done"}, {Priority: "p1"}, {Title: strings.Repeat("x", wire.MaxTicketTitle+1)}, {Assignee: "a\nb"}} {
		if _, _, err := s.Update(a.Number, u); !errors.Is(err, ErrInvalid) {
			t.Errorf("update %+v: %v", u, err)
		}
	}
	if _, _, err := s.Update("T-9999", wire.TicketUpdate{Status: wire.StatusClosed}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown ticket: %v", err)
	}
	if _, err := s.Comment(a.Number, "bob", "  "); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty comment: %v", err)
	}
	for i := range wire.MaxTicketSessions {
		if _, _, err := s.Update(a.Number, wire.TicketUpdate{Session: fmt.Sprint("s", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Update(a.Number, wire.TicketUpdate{Session: "one-more"}); !errors.Is(err, ErrFull) {
		t.Errorf("session %d: %v", wire.MaxTicketSessions+1, err)
	}
	for i := range wire.MaxTicketAttachments {
		if _, err := s.Attach(a.Number, wire.Attachment{Name: fmt.Sprint(i, ".txt"), Type: "text/plain", Data: []byte("log")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Attach(a.Number, wire.Attachment{Name: "x.txt", Type: "text/plain", Data: []byte("log")}); !errors.Is(err, ErrFull) {
		t.Errorf("attachment %d: %v", wire.MaxTicketAttachments+1, err)
	}
}

// TestConcurrentWrites: comments, updates and attachments from many
// writers at once all land, each once, and each attachment keeps its own
// bytes (attachments of several chunks, written concurrently).
func TestConcurrentWrites(t *testing.T) {
	leak.Check(t)
	s, _ := memStore(t)
	a, err := s.Create("bob", wire.TicketCreate{Title: "Busy", Company: "acme"}, Device{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			if _, err := s.Comment(a.Number, "bob", fmt.Sprint("comment ", i)); err != nil {
				t.Error(err)
			}
		})
	}
	blob := func(i int) []byte { return bytes.Repeat([]byte{'a' + byte(i)}, chunk+1000*i) }
	for i := range wire.MaxTicketAttachments {
		wg.Go(func() {
			if _, err := s.Attach(a.Number, wire.Attachment{Name: fmt.Sprint(i, ".txt"), Type: "text/plain", Data: blob(i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	h, _ := s.Header(a.Number)
	for _, info := range h.Attachments {
		var i int
		fmt.Sscanf(info.Name, "%d.txt", &i)
		_, data, err := s.Attachment(a.Number, info.Index)
		if err != nil || !bytes.Equal(data, blob(i)) {
			t.Errorf("attachment %d (%s): %d bytes, %v", info.Index, info.Name, len(data), err)
		}
	}
	got, err := s.Get(a.Number)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range got.Comments {
		seen[c.Text] = true
	}
	if len(got.Comments) != 40 || len(seen) != 40 || len(got.Attachments) != wire.MaxTicketAttachments || got.Version != 41+wire.MaxTicketAttachments {
		t.Errorf("%d comments (%d distinct), version %d", len(got.Comments), len(seen), got.Version)
	}
}
