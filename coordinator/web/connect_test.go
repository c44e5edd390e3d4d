package web

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/wire"
)

// connectDesk is the fake desk with connect tickets.
type connectDesk struct {
	*fakeDesk
	online bool

	mu     sync.Mutex
	minted []string
}

func (d *connectDesk) MintConnect(c desk.Caller, t wire.ConnectTarget) (desk.ConnectTicket, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.minted = append(d.minted, c.User+" "+t.Session+t.Device)
	return desk.ConnectTicket{Ticket: "t1ck3t", Target: t, ViewerOnline: d.online}, nil
}

// Connect on the Support tab and on a machine's panel goes through the
// dashboard, which sends the browser to the viewer with a ticket minted
// for the technician, or says how to start the viewer when none runs.
func TestConnectTicketLinks(t *testing.T) {
	f, fd := newFake(), newFakeDesk()
	d := &connectDesk{fakeDesk: fd, online: true}
	cfg := supportConfig(f, fd, "")
	cfg.Desk = d
	cfg.ViewerURL = "http://127.0.0.1:9999/"
	b := newSupportBrowser(t, cfg)
	b.login("bob")

	_, body := b.do("GET", "/support/desk", nil)
	if !strings.Contains(body, `href="/support/desk/connect?session=ses-bob"`) {
		t.Errorf("the Support tab's Connect does not lead to the connect route:\n%s", body)
	}
	_, body = b.do("GET", "/machines?m=dev-2", nil)
	if !strings.Contains(body, `id="connect" href="/support/desk/connect?device=dev-2"`) {
		t.Errorf("the machine panel's Connect does not lead to the connect route:\n%s", body)
	}
	resp, _ := b.do("POST", "/support/desk/redeem", url.Values{"csrf": {b.csrf("/support/desk")}, "code": {"314 159"}})
	wantRedirect(t, "redeem", resp, "/support/desk/connect?session=ses-new%2F1")

	resp, _ = b.do("GET", "/support/desk/connect?session=ses-bob", nil)
	wantRedirect(t, "connect with the viewer running", resp, "http://127.0.0.1:9999/connect?ticket=t1ck3t")
	resp, _ = b.do("GET", "/support/desk/connect?device=dev-2", nil)
	wantRedirect(t, "connect to a machine", resp, "http://127.0.0.1:9999/connect?ticket=t1ck3t")

	d.online = false
	resp, body = b.do("GET", "/support/desk/connect?session=ses-bob", nil)
	wantStatus(t, "connect without a viewer", resp, http.StatusOK)
	for _, want := range []string{"<code>peerdesk-viewer ui</code>", `id="connect-again" href="/support/desk/connect?session=ses-bob"`,
		`id="open-anyway" href="http://127.0.0.1:9999/connect?ticket=t1ck3t"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the start-your-viewer page lacks %q:\n%s", want, body)
		}
	}
	want := []string{"bob ses-bob", "bob dev-2", "bob ses-bob"}
	if diff := cmp.Diff(want, d.minted); diff != "" {
		t.Errorf("tickets minted (-want +got):\n%s", diff)
	}
}
