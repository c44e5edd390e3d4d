package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pquerna/otp/totp"

	"github.com/peerdesk/peerdesk/cli/admincmd"
	"github.com/peerdesk/peerdesk/coordinator/adminclient"
	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// serveLocal serves h on a Unix socket for the test and returns its path.
func serveLocal(t *testing.T, h http.Handler) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }() //nolint:errcheck // ErrServerClosed at Close
	t.Cleanup(func() { srv.Close(); <-done })
	return sock
}

// TestM5AdminUserDeviceOverSocket: `peerdesk admin user …` and `peerdesk
// admin device …` through the local socket: list, disable (the
// technician's API session is refused at its next request and its
// overlay node deleted), enable, passwd (read like add-user's), role,
// delete; device list, move, remove (its node deleted), reset. Each is
// audited with actor local.
func TestM5AdminUserDeviceOverSocket(t *testing.T) {
	leak.Check(t)
	e := newEnv(t)
	c := adminclient.New(serveLocal(t, e.local))
	ctx := context.Background()
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		pw := func(string) (string, error) { return "a brand new password", nil }
		var err error
		if args[0] == "user" {
			err = admincmd.User(ctx, c, args[1:], pw, &out)
		} else {
			err = admincmd.Device(ctx, c, args[1:], &out)
		}
		if err != nil {
			t.Fatalf("%q: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	if err := e.accounts.Create("root", "a long enough password", policy.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	run("user", "add", "-name", "bob", "-role", "technician", "-companies", "acme")
	bobTok, _, err := newSession(e.accounts, "bob", policy.RoleTechnician, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.accounts.RecordOverlayKey(77, "bob"); err != nil {
		t.Fatal(err)
	}
	e.overlay.setNodes(nodeWith(77))
	if out := run("user", "list"); !strings.Contains(out, "bob") || !strings.Contains(out, "acme") {
		t.Errorf("user list:\n%s", out)
	}
	if w := e.do(e.pub, "GET", wire.PathDevices, "Bearer "+bobTok, ""); w.Code != http.StatusOK {
		t.Fatalf("bob before: %d", w.Code)
	}
	run("user", "disable", "-name", "bob")
	if w := e.do(e.pub, "GET", wire.PathDevices, "Bearer "+bobTok, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("bob's session after disable: %d, want 401", w.Code)
	}
	if n := len(e.overlay.Nodes()); n != 0 {
		t.Errorf("bob's overlay node is still there (%d nodes)", n)
	}
	run("user", "enable", "-name", "bob")
	run("user", "passwd", "-name", "bob")
	if _, err := e.accounts.Authenticate("bob", "a brand new password"); err != nil {
		t.Errorf("the new password: %v", err)
	}
	run("user", "role", "-name", "bob", "-role", "senior", "-companies", "acme,globex")
	if u, _ := e.accounts.Get("bob"); u.Role != policy.RoleSenior || len(u.Companies) != 2 {
		t.Errorf("bob after role: %v %v", u.Role, u.Companies)
	}
	if err := admincmd.User(ctx, c, []string{"role", "-name", "root", "-role", "viewer"}, nil, &bytes.Buffer{}); err == nil {
		t.Error("the last admin was demoted")
	}
	run("user", "delete", "-name", "bob")
	if _, err := e.accounts.Get("bob"); !errors.Is(err, identity.ErrNoUser) {
		t.Errorf("bob after delete: %v", err)
	}

	dev := e.enroll(t, "pc-1", 'c')
	e.overlay.setNodes(nodeWith(dev.keyID))
	if out := run("device", "list"); !strings.Contains(out, dev.DeviceID) {
		t.Errorf("device list:\n%s", out)
	}
	run("device", "move", "-id", dev.DeviceID, "-company", "globex", "-site", "hq")
	run("device", "remove", "-id", dev.DeviceID)
	if n := len(e.overlay.Nodes()); n != 0 {
		t.Errorf("the removed device's node is still there")
	}
	if w := e.do(e.pub, "POST", wire.PathHeartbeat, dev.auth, `{}`); w.Code != http.StatusUnauthorized {
		t.Errorf("a removed device's heartbeat: %d, want 401", w.Code)
	}
	if out := run("device", "list"); !strings.Contains(out, "removed") {
		t.Errorf("device list after remove:\n%s", out)
	}
	run("device", "reset", "-id", dev.DeviceID)
	if err := admincmd.Device(ctx, c, []string{"reset", "-id", dev.DeviceID}, &bytes.Buffer{}); err == nil {
		t.Error("a reset device was reset again")
	}

	for _, action := range []string{"account.disable", "account.enable", "account.password.set", "account.role.set",
		"account.delete", "device.move", "device.remove", "device.reset"} {
		recs, err := e.audit.List(audit.Query{Action: action, Outcome: audit.OK})
		if err != nil || len(recs) != 1 || recs[0].Actor != "local" {
			t.Errorf("%s audited as %+v, %v", action, recs, err)
		}
	}
}

// TestI1LoginAsksSecondFactor: over the JSON API, an account with TOTP
// gets a pending login, not a session; the code finishes it, a wrong code
// is refused; an API key authenticates as its own role and is refused
// once revoked.
func TestI1LoginAsksSecondFactor(t *testing.T) {
	leak.Check(t)
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e, cfg := envOver(t, db, dir)
	accounts, err := identity.New(db, e.clock.Now, identity.WithSealKey(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Accounts = accounts
	srv, _ := e.server(cfg)
	pub := srv.Handler()
	if err := accounts.Create("carol", "a long enough password", policy.RoleSenior); err != nil {
		t.Fatal(err)
	}
	setup, err := accounts.BeginTOTP("carol")
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCode(setup.Secret, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accounts.ConfirmTOTP("carol", code); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(60e9) // the next code's step

	w := e.do(pub, "POST", wire.PathLogin, "", `{"username":"carol","password":"a long enough password"}`)
	var first wire.LoginResponse
	decodeBody(t, w, http.StatusOK, &first)
	if !first.SecondFactor || first.Pending == "" || first.Session != "" || first.AuthKey != "" {
		t.Fatalf("first answer %+v: want only a pending second factor", first)
	}
	w = e.do(pub, "POST", wire.PathLoginSecondFactor, "", `{"pending":"`+first.Pending+`","code":"000000"}`)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("a wrong code: %d", w.Code)
	}
	code, _ = totp.GenerateCode(setup.Secret, e.clock.Now())
	w = e.do(pub, "POST", wire.PathLoginSecondFactor, "", `{"pending":"`+first.Pending+`","code":"`+code+`"}`)
	var done wire.LoginResponse
	decodeBody(t, w, http.StatusOK, &done)
	if done.Session == "" || done.AuthKey == "" || done.Username != "carol" {
		t.Fatalf("second answer %+v", done)
	}

	// An API key: made through the API, acting as a viewer.
	w = e.do(pub, "POST", wire.PathAPIKeys, "Bearer "+done.Session, `{"name":"ci","role":"viewer"}`)
	var key wire.APIKeyCreated
	decodeBody(t, w, http.StatusCreated, &key)
	if !strings.HasPrefix(key.Key, identity.APIKeyPrefix) {
		t.Fatalf("key %+v", key)
	}
	if w := e.do(pub, "GET", wire.PathDevices, "Bearer "+key.Key, ""); w.Code != http.StatusOK {
		t.Errorf("listing devices with the key: %d", w.Code)
	}
	if w := e.do(pub, "POST", wire.PathSupportCodes, "Bearer "+key.Key, `{}`); w.Code != http.StatusForbidden {
		t.Errorf("a viewer key making a code: %d, want 403", w.Code)
	}
	if w := e.do(pub, "POST", wire.PathAPIKeys+"/"+key.ID+"/revoke", "Bearer "+done.Session, ""); w.Code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	if w := e.do(pub, "GET", wire.PathDevices, "Bearer "+key.Key, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("the revoked key: %d, want 401", w.Code)
	}
	for _, action := range []string{"apikey.create", "apikey.revoke"} {
		if recs, _ := e.audit.List(audit.Query{Action: action, Outcome: audit.OK}); len(recs) != 1 || recs[0].Actor != "carol" {
			t.Errorf("%s audited as %+v", action, recs)
		}
	}
}

func nodeWith(keyID uint64) overlay.Node {
	return overlay.Node{NodeKey: fmt.Sprint("nodekey:", keyID), AuthKeyID: keyID}
}

func decodeBody(t testing.TB, w *httptest.ResponseRecorder, status int, v any) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("%d, want %d: %s", w.Code, status, w.Body)
	}
	decodeJSON(t, w, v)
}
