package web

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/supportpack"
)

// noOverlay is a control plane with no nodes: enough for the desk.
type noOverlay struct{}

func (noOverlay) CreateAuthKey(overlay.KeyOptions) (overlay.AuthKey, error) {
	return overlay.AuthKey{ID: 1, Key: "k"}, nil
}
func (noOverlay) DeleteAuthKey(uint64) error        { return nil }
func (noOverlay) RevokeAuthKey(uint64) (int, error) { return 0, nil }
func (noOverlay) Nodes() []overlay.Node             { return nil }
func (noOverlay) NodeByKey(string) (overlay.Node, error) {
	return overlay.Node{}, overlay.ErrNotFound
}

var newCodeShown = regexp.MustCompile(`id="new-code">(\d{6})<`)

// TestRealDesk drives the Support tab and the portal against the real API
// server and support desk over a real store: the actions land in the desk
// and in the audit trail, as the JSON API's do.
func TestRealDesk(t *testing.T) {
	leak.Check(t)
	db, err := store.Open(filepath.Join(t.TempDir(), "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := func() time.Time { return t0 }
	accounts, err := identity.New(db, now)
	if err != nil {
		t.Fatal(err)
	}
	sd, trail := support.New(db, now), audit.New(db, now)
	srv := desk.New(desk.Config{
		Accounts: accounts, Registry: enroll.New(db, now), Audit: trail, Overlay: noOverlay{},
		Support: sd, Pin: testPin, ControlURL: testURL, Now: now,
	})
	b := newSupportBrowser(t, Config{
		Backend: srv, Desk: srv, Portal: srv, PublicURL: testURL, Pin: testPin,
		SupportBinaries: binariesDir(t), Now: now,
	})
	if err := accounts.Create("bob", "a long enough password", policy.RoleTechnician); err != nil {
		t.Fatal(err)
	}
	tok, sess, err := accounts.NewSession(identity.User{Name: "bob", Role: policy.RoleTechnician})
	if err != nil {
		t.Fatal(err)
	}
	b.cookies[SessionCookie] = &http.Cookie{Name: SessionCookie, Value: tok, Path: "/", Expires: sess.Expires}
	csrf := b.csrf("/support/desk")

	// Generate a code, find it pending, and use it in the portal.
	_, body := b.submit("/support/desk/codes", url.Values{"csrf": {csrf}, "assign": {"me"}, "expiry": {"24h"}})
	m := newCodeShown.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no new code shown:\n%s", body)
	}
	code := m[1]
	if !strings.Contains(section(t, body, "pending-title"), code) {
		t.Error("the new code is not pending")
	}
	user := newSupportBrowser(t, Config{})
	user.h = b.h
	resp, body := user.submit("/support", url.Values{"csrf": {user.csrf("/support")}, "code": {code}}, "User-Agent", uaLinuxChrome)
	wantStatus(t, "portal with the code", resp, http.StatusOK)
	if !strings.Contains(body, "/support/download/"+code+"/linux-amd64") {
		t.Error("no download link")
	}
	resp, body = user.do("GET", "/support/download/"+code+"/linux-amd64", nil)
	wantStatus(t, "download", resp, http.StatusOK)
	cfg, err := supportpack.Read(bytes.NewReader([]byte(body)), int64(len(body)))
	if err != nil || cfg.Code != code || cfg.Pin != testPin || cfg.CoordinatorURL != testURL {
		t.Errorf("downloaded trailer %+v, %v", cfg, err)
	}
	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	resp, _ = user.do("POST", "/support", url.Values{"csrf": {user.csrf("/support")}, "code": {wrong}})
	wantStatus(t, "portal with a wrong code", resp, http.StatusNotFound)

	// Cancel it: the portal then refuses it.
	wantRedirect(t, "cancel", first(b.do("POST", "/support/desk/codes/"+code+"/cancel", url.Values{"csrf": {csrf}})), "/support/desk")
	resp, _ = user.do("POST", "/support", url.Values{"csrf": {user.csrf("/support")}, "code": {code}})
	wantStatus(t, "portal with the cancelled code", resp, http.StatusGone)

	// An end user's agent asks for help; bob takes the request and ends it.
	req, err := sd.Request("dev-1", "front-desk-pc", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, body = b.do("GET", "/support/desk", nil)
	if !strings.Contains(section(t, body, "requests-title"), "front-desk-pc") {
		t.Error("the request is not listed")
	}
	resp, _ = b.do("POST", "/support/desk/redeem", url.Values{"csrf": {csrf}, "code": {req.Code}})
	loc := resp.Header.Get("Location")
	q, ok := strings.CutPrefix(loc, connectPath+"?session=")
	id, err := url.QueryUnescape(q)
	if resp.StatusCode != http.StatusSeeOther || !ok || err != nil {
		t.Fatalf("redeem: %d to %q", resp.StatusCode, loc)
	}
	// Connect with no viewer of bob's on the overlay: the page says how
	// to start one, and offers this click's ticket should it run after all.
	resp, body = b.do("GET", loc, nil)
	wantStatus(t, "connect without a viewer", resp, http.StatusOK)
	for _, want := range []string{"Start your viewer", "<code>peerdesk-viewer ui</code>", `id="connect-again" href="` + loc + `"`,
		`id="open-anyway" href="` + DefaultViewerURL + "/connect?ticket="} {
		if !strings.Contains(body, want) {
			t.Errorf("the start-your-viewer page lacks %q:\n%s", want, body)
		}
	}
	_, body = b.do("GET", "/support/desk", nil)
	if !strings.Contains(section(t, body, "mine-title"), `id="session-`+id+`"`) {
		t.Errorf("the session is not under My sessions:\n%s", body)
	}
	wantRedirect(t, "end", first(b.do("POST", "/support/desk/sessions/"+id+"/end", url.Values{"csrf": {csrf}})), "/support/desk")
	_, body = b.do("GET", "/support/desk", nil)
	if !strings.Contains(section(t, body, "ended-title"), "front-desk-pc") {
		t.Error("the session is not under Ended")
	}

	recs, err := trail.List(audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Actor+" "+r.Action+" "+r.Outcome+" ip="+r.Fields["ip"])
	}
	want := []string{
		"bob support.code.create ok ip=192.0.2.1",
		"ip:192.0.2.1 support.code.check denied ip=192.0.2.1",
		"bob support.code.cancel ok ip=192.0.2.1",
		"ip:192.0.2.1 support.code.check denied ip=192.0.2.1",
		"bob support.code.redeem ok ip=192.0.2.1",
		"bob connect.ticket ok ip=192.0.2.1",
		"bob support.session.end ok ip=192.0.2.1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit trail (-want +got):\n%s", diff)
	}
	if _, err := trail.Verify(); err != nil {
		t.Errorf("audit chain: %v", err)
	}
}

// TestOfficeNATConfusedUserBlocksNobody (issue 12, item 7): two browsers
// behind one office address; one types wrong codes until the portal
// refuses it, the other's right code still goes through, because only
// wrong codes cost and each browser has a budget of its own. (Before,
// the eleventh wrong code from the address refused everyone there.)
func TestOfficeNATConfusedUserBlocksNobody(t *testing.T) {
	leak.Check(t)
	db, err := store.OpenInMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := func() time.Time { return t0 }
	accounts, err := identity.New(db, now)
	if err != nil {
		t.Fatal(err)
	}
	sd := support.New(db, now)
	srv := desk.New(desk.Config{
		Accounts: accounts, Registry: enroll.New(db, now), Audit: audit.New(db, now), Overlay: noOverlay{},
		Support: sd, Pin: testPin, ControlURL: testURL, Now: now,
	})
	cfg := Config{Backend: srv, Desk: srv, Portal: srv, PublicURL: testURL, Pin: testPin, SupportBinaries: binariesDir(t), Now: now}
	code, err := sd.Generate("bob", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	confused := newSupportBrowser(t, cfg)
	refused := false
	for i := range 12 {
		wrong := fmt.Sprintf("%06d", (i*7919+13)%1_000_000)
		if wrong == code.Code {
			continue
		}
		resp, _ := confused.do("POST", "/support", url.Values{"csrf": {confused.csrf("/support")}, "code": {wrong}})
		if resp.StatusCode == http.StatusTooManyRequests {
			refused = true
			break
		}
	}
	if !refused {
		t.Fatal("12 wrong codes from one browser were never refused")
	}
	colleague := newSupportBrowser(t, cfg)
	resp, body := colleague.do("POST", "/support", url.Values{"csrf": {colleague.csrf("/support")}, "code": {code.Code}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a colleague's right code behind the same address: %d\n%s", resp.StatusCode, body)
	}
}
