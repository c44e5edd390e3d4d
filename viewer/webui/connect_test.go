package webui

import (
	"bytes"
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
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/viewer"
	"github.com/peerdesk/peerdesk/wire"
	"tailscale.com/tstest"
)

// noNodes is an overlay with no nodes: enough for connect tickets.
type noNodes struct{}

func (noNodes) CreateAuthKey(overlay.KeyOptions) (overlay.AuthKey, error) {
	return overlay.AuthKey{ID: 1, Key: "k"}, nil
}
func (noNodes) DeleteAuthKey(uint64) error        { return nil }
func (noNodes) RevokeAuthKey(uint64) (int, error) { return 0, nil }
func (noNodes) Nodes() []overlay.Node             { return nil }
func (noNodes) NodeByKey(string) (overlay.Node, error) {
	return overlay.Node{}, overlay.ErrNotFound
}

// A connect ticket from the dashboard logs the browser in to the viewer's
// page once, only for the technician it was minted for, only within its
// minute; the ticket appears in no log line. The coordinator here is the
// real desk behind the real JSON API, over TLS; the viewer is logged in
// to it as ann.
func TestConnectTicket(t *testing.T) {
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

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := &Server{addr: "127.0.0.1:7071", key: "the-page-key", log: log}
	for _, u := range []string{"ann", "bob"} {
		if err := accounts.Create(u, "a long enough password", policy.RoleTechnician); err != nil {
			t.Fatal(err)
		}
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
	v, err := viewer.Open(viewer.Config{StateDir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	s.redeemTicket = v.RedeemConnect
	h := s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("page " + r.URL.Path)) }))

	get := func(path string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest("GET", "http://127.0.0.1:7071"+path, nil)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	var tickets []string
	mint := func(user string, tg wire.ConnectTarget) string {
		t.Helper()
		tk, err := d.MintConnect(desk.Caller{User: user, Role: policy.RoleTechnician, IP: "192.0.2.1", Via: "web"}, tg)
		if err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, tk.Ticket)
		return tk.Ticket
	}
	loggedIn := func(rec *httptest.ResponseRecorder) bool {
		for _, c := range rec.Result().Cookies() {
			if c.Name == cookieName && c.Value == s.key && c.HttpOnly && c.SameSite == http.SameSiteLaxMode {
				return true
			}
		}
		return false
	}
	refused := func(what string, rec *httptest.ResponseRecorder, status int, msg string) {
		t.Helper()
		body := rec.Body.String()
		if rec.Code != status || loggedIn(rec) || !strings.Contains(body, msg) || !strings.Contains(body, `id="key-needed"`) {
			t.Errorf("%s: %d, logged in %v, want %d and a page saying %q:\n%s", what, rec.Code, loggedIn(rec), status, msg, body)
		}
	}

	// Without a key or a ticket: a page that says what to do.
	refused("no key", get("/session/ses-1"), http.StatusUnauthorized, "peerdesk-viewer ui")

	// Good once: the cookie, then the session page.
	tk := mint("ann", wire.ConnectTarget{Session: "ses-1"})
	rec := get("/connect?ticket=" + tk)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/session/ses-1" || !loggedIn(rec) {
		t.Fatalf("a good ticket: %d to %q, logged in %v:\n%s", rec.Code, rec.Header().Get("Location"), loggedIn(rec), rec.Body)
	}
	// Replayed: refused.
	refused("replay", get("/connect?ticket="+tk), http.StatusForbidden, "used already")

	// A machine's ticket leads to the machine.
	rec = get("/connect?ticket=" + mint("ann", wire.ConnectTarget{Device: "dev/1"}))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/device/dev%2F1" || !loggedIn(rec) {
		t.Errorf("a machine's ticket: %d to %q, logged in %v", rec.Code, rec.Header().Get("Location"), loggedIn(rec))
	}

	// Minted for bob: ann's viewer may not use it.
	refused("bob's ticket", get("/connect?ticket="+mint("bob", wire.ConnectTarget{Session: "ses-1"})), http.StatusForbidden, "another technician")

	// Expired after its minute.
	tk = mint("ann", wire.ConnectTarget{Session: "ses-1"})
	clock.Advance(desk.ConnectTicketTTL + time.Second)
	refused("expired", get("/connect?ticket="+tk), http.StatusForbidden, "expired")

	// Damaged: refused before asking the coordinator.
	for _, bad := range []string{"", "XYZ", strings.Repeat("a", wire.MaxConnectTicket+1)} {
		refused("damaged "+bad, get("/connect?ticket="+bad), http.StatusBadRequest, "damaged")
	}

	if logs.Len() == 0 {
		t.Error("nothing logged: the refusals should be")
	}
	for _, tk := range append(tickets, s.key) {
		if strings.Contains(logs.String(), tk) {
			t.Errorf("a secret in the log:\n%s", logs.String())
		}
	}
}
