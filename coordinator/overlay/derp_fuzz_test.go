package overlay

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"

	"tailscale.com/tailcfg"
	"tailscale.com/types/key"
)

// FuzzVerifyRequest feeds the relay's admission decoder any body: it never
// panics, and it admits the one known node key only.
func FuzzVerifyRequest(f *testing.F) {
	known := key.NewNode().Public()
	r, err := newRelay(filepath.Join(f.TempDir(), "derp.key"), func(k key.NodePublic) bool { return k == known }, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { r.close() })
	for _, ask := range []tailcfg.DERPAdmitClientRequest{{NodePublic: known}, {NodePublic: key.NewNode().Public()}, {}} {
		b, err := json.Marshal(ask)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"NodePublic":"nodekey:00"}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := http.NewRequest(http.MethodPost, derpVerifyScheme+"://"+r.id+"/verify", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res, err := verifyTransport{}.RoundTrip(req)
		if err != nil {
			return // refused: the DERP server refuses the client too
		}
		defer res.Body.Close()
		var ans tailcfg.DERPAdmitClientResponse
		if err := json.NewDecoder(res.Body).Decode(&ans); err != nil {
			t.Fatalf("answer: %v", err)
		}
		if !ans.Allow {
			return
		}
		var ask tailcfg.DERPAdmitClientRequest
		if err := json.NewDecoder(io.LimitReader(bytes.NewReader(body), 4<<10)).Decode(&ask); err != nil || ask.NodePublic != known {
			t.Fatalf("admitted %q (decoded %v, %v)", body, ask.NodePublic, err)
		}
	})
}
