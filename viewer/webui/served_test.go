package webui

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/api"
	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/consentrules"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/viewer"
	"github.com/peerdesk/peerdesk/wire"
	"tailscale.com/tstest"
)

// TestPagesSayWhatTheAgentLacks: a machine whose agent runs protocol 1
// (it never said what it serves) gets a page that says, in words, that it
// has no file transfer, shell… and to update the agent; a machine of
// protocol 2 without a shell gets a page that says only that; the machine
// list shows each agent's protocol. The coordinator is the real desk behind
// the real JSON API, over TLS; nothing here needs the overlay.
func TestPagesSayWhatTheAgentLacks(t *testing.T) {
	leak.Check(t)
	db, err := store.OpenInMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clock := tstest.NewClock(tstest.ClockOpts{Start: time.Now()})
	accounts, err := identity.New(db, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d := desk.New(desk.Config{Accounts: accounts, Registry: enroll.New(db, clock.Now), Audit: audit.New(db, clock.Now),
		ConsentRules: consentrules.New(db, nil), Overlay: noNodes{}, Support: support.New(db, clock.Now),
		ControlURL: "https://coord.test", GrantKey: key, Pin: strings.Repeat("ab", 32), Now: clock.Now})
	coord := httptest.NewTLSServer(api.New(api.Config{Desk: d}).Handler())
	t.Cleanup(coord.Close)
	enrollAs := func(host string, machine byte, agent wire.Served) string {
		t.Helper()
		tok, err := d.CreateToken(desk.Local(), enroll.TokenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := d.Enroll("192.0.2.1", wire.EnrollRequest{Token: tok.Token, MachineID: strings.Repeat(string(machine), 64),
			Hostname: host, OS: "linux", Agent: agent})
		if err != nil {
			t.Fatal(err)
		}
		return resp.DeviceID
	}
	pc7 := enrollAs("pc-7", 'a', wire.Served{})
	srv1 := enrollAs("srv-1", 'b', wire.Served{Protocol: 2, Capabilities: []wire.Capability{
		wire.CapSysInfo, wire.CapFiles, wire.CapProcesses, wire.CapServices, wire.CapApps, wire.CapLogs}})

	if err := accounts.Create("ann", "a long enough password", policy.RoleTechnician); err != nil {
		t.Fatal(err)
	}
	tok, sess, err := accounts.NewSession(identity.User{Name: "ann", Role: policy.RoleTechnician})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b, err := json.Marshal(viewer.Session{CoordinatorURL: coord.URL, CAPEM: trust.EncodeCA(coord.Certificate()), Token: tok,
		Expires: sess.Expires, Username: "ann", Role: string(policy.RoleTechnician)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "viewer.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := viewer.Open(viewer.Config{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	s := &Server{addr: "127.0.0.1:7071", key: "the-page-key", log: slog.New(slog.DiscardHandler), v: v}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /device/{id}", s.devicePage)
	h := s.guard(mux)
	get := func(path string) string {
		t.Helper()
		r := httptest.NewRequest("GET", "http://127.0.0.1:7071"+path, nil)
		r.AddCookie(&http.Cookie{Name: cookieName, Value: s.key})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s = %d:\n%s", path, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}

	page := get("/device/" + pc7)
	for _, words := range []string{
		"pc-7 runs peerdesk agent protocol 1, which has no file transfer; update the agent.",
		"pc-7 runs peerdesk agent protocol 1, which has no shell; update the agent.",
		"pc-7 runs peerdesk agent protocol 1, which has no event logs; update the agent.",
	} {
		if !strings.Contains(page, words) {
			t.Errorf("pc-7's page does not say %q:\n%s", words, page)
		}
	}
	page = get("/device/" + srv1)
	if want := "srv-1&#39;s peerdesk agent runs without shell."; !strings.Contains(page, want) {
		t.Errorf("srv-1's page does not say %q:\n%s", want, page)
	}
	if strings.Count(page, "<p>srv-1") != 1 || strings.Contains(page, "update the agent") {
		t.Errorf("srv-1's page says more than that it has no shell:\n%s", page)
	}

	home := get("/")
	for _, want := range []string{"<td>pc-7</td><td>linux</td><td>protocol 1</td>", "<td>srv-1</td><td>linux</td><td>protocol 2</td>"} {
		if !strings.Contains(home, want) {
			t.Errorf("the machine list does not show %q:\n%s", want, home)
		}
	}
}
