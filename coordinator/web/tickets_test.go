package web

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/coordinator/tickets"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// ticketWorld is the dashboard over a real desk with tickets, and a
// machine of Acme and one of Globex.
type ticketWorld struct {
	d        *desk.Desk
	accounts *identity.Accounts
	srv      *httptest.Server
	dev      map[string]enroll.Device
}

func newTicketWorld(t *testing.T) *ticketWorld {
	t.Helper()
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
	ts, err := tickets.Open(db, now)
	if err != nil {
		t.Fatal(err)
	}
	d := desk.New(desk.Config{Accounts: accounts, Registry: enroll.New(db, now), Audit: audit.New(db, now), Overlay: noOverlay{},
		Support: support.New(db, now), Pin: testPin, ControlURL: testURL, Now: now, Tickets: ts,
		GrantKey: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))})
	// A refresh that never comes within a test: what the stream sends,
	// it sends because of a change event.
	h := New(Config{Backend: d, Desk: d, Tickets: d, PublicURL: testURL, Now: now, RefreshEvery: time.Hour})
	w := &ticketWorld{d: d, accounts: accounts, srv: httptest.NewServer(h), dev: map[string]enroll.Device{}}
	t.Cleanup(w.srv.Close)
	for i, company := range []string{"acme", "globex"} {
		tok, err := d.CreateToken(desk.Local(), enroll.TokenOptions{Company: company})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := d.Enroll("192.0.2.1", wire.EnrollRequest{Token: tok.Token, MachineID: strings.Repeat(string(rune('a'+i)), 64), Hostname: "pc-" + company, OS: "linux"})
		if err != nil {
			t.Fatal(err)
		}
		w.dev[company] = enroll.Device{ID: resp.DeviceID}
	}
	return w
}

func (w *ticketWorld) session(t *testing.T, name string, role policy.Role, scope ...string) string {
	t.Helper()
	if err := w.accounts.CreateScoped(name, "a long enough password", role, scope); err != nil {
		t.Fatal(err)
	}
	tok, _, err := w.accounts.NewSession(identity.User{Name: name, Role: role, Companies: scope})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (w *ticketWorld) file(t *testing.T, company string, i int, at wire.AgentTicket) string {
	t.Helper()
	at.ID, at.Priority = fmt.Sprintf("%032x", i), wire.PriorityNormal
	if at.Title == "" {
		at.Title = "Ticket " + company
	}
	rc, err := w.d.FileAgentTicket(w.dev[company], at)
	if err != nil {
		t.Fatal(err)
	}
	return rc.Ticket
}

func (w *ticketWorld) get(t *testing.T, token, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", w.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: token})
	resp, err := w.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func openTicketStream(ctx context.Context, t *testing.T, w *ticketWorld, token, path string) *stream {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", w.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: token})
	resp, err := w.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	s := &stream{resp: resp, lines: make(chan string, 1024)}
	go s.read()
	return s
}

func (s *stream) read() {
	defer close(s.lines)
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		s.lines <- sc.Text()
	}
}

// liveEvent returns the data of the next "live" event of s.
func liveEvent(t *testing.T, s *stream) string {
	t.Helper()
	for {
		ev := s.next(t)
		if ev == nil {
			t.Fatal("the stream ended")
		}
		if len(ev) > 0 && ev[0] == "event: live" {
			var data []string
			for _, l := range ev {
				if d, ok := strings.CutPrefix(l, "data: "); ok {
					data = append(data, d)
				}
			}
			return strings.Join(data, "\n")
		}
	}
}

// TestTicketsStream: the Tickets tab's stream sends the filtered list at
// once and again at each change of a ticket — a ticket filed, another
// technician's update — with no refresh to fall back on; a ticket out of
// the technician's scope never shows.
func TestTicketsStream(t *testing.T) {
	leak.Check(t)
	w := newTicketWorld(t)
	bob := w.session(t, "bob", policy.RoleTechnician, "acme")
	carol := desk.Caller{User: "carol", Role: policy.RoleSenior, Via: "web", IP: "192.0.2.9"}
	first := w.file(t, "acme", 1, wire.AgentTicket{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := openTicketStream(ctx, t, w, bob, "/tickets/events?status=open")
	defer s.close()
	if l := liveEvent(t, s); !strings.Contains(l, `id="ticket-`+first+`"`) {
		t.Fatalf("the first list lacks %s:\n%s", first, l)
	}
	second := w.file(t, "acme", 2, wire.AgentTicket{Title: "Scanner jammed"})
	if l := liveEvent(t, s); !strings.Contains(l, `id="ticket-`+second+`"`) || !strings.Contains(l, "Scanner jammed") {
		t.Fatalf("after a ticket was filed:\n%s", l)
	}
	if _, err := w.d.UpdateTicket(carol, first, wire.TicketUpdate{Status: wire.StatusResolved}); err != nil {
		t.Fatal(err)
	}
	l := liveEvent(t, s)
	if strings.Contains(l, `id="ticket-`+first+`"`) || !strings.Contains(l, `id="ticket-`+second+`"`) {
		t.Fatalf("after %s was resolved, the open list:\n%s", first, l)
	}
	// Globex's ticket wakes the stream, but bob's list is the same: the
	// next event is the next change he may see.
	w.file(t, "globex", 3, wire.AgentTicket{Title: "Globex secret"})
	if _, err := w.d.CommentTicket(carol, second, "on it"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.d.UpdateTicket(carol, second, wire.TicketUpdate{Priority: wire.PriorityUrgent}); err != nil {
		t.Fatal(err)
	}
	if l := liveEvent(t, s); strings.Contains(l, "Globex") || !strings.Contains(l, "urgent") {
		t.Fatalf("after changes in and out of scope:\n%s", l)
	}
}

// TestTicketPage: the page shows the chat escaped, the summary state, the
// screenshot inline from its attachment URL (which serves it with its own
// type, nosniff and a sandbox), and Open a support session; the page's
// policy lets the image and the script load and nothing else.
func TestTicketPage(t *testing.T) {
	leak.Check(t)
	w := newTicketWorld(t)
	bob := w.session(t, "bob", policy.RoleTechnician, "acme")
	var shot bytes.Buffer
	if err := png.Encode(&shot, image.NewGray(image.Rect(0, 0, 3, 3))); err != nil {
		t.Fatal(err)
	}
	n := w.file(t, "acme", 1, wire.AgentTicket{
		Chat:        []wire.ChatLine{{Role: "user", Text: `<script>alert("x")</script> my printer`, Time: t0}},
		Attachments: []wire.Attachment{{Name: "screen.png", Type: "image/png", Data: shot.Bytes()}},
	})
	resp, body := w.get(t, bob, "/tickets/"+n)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d:\n%s", resp.StatusCode, body)
	}
	for _, want := range []string{
		`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; my printer`,
		`id="summary-pending"`,
		`<img src="/tickets/` + n + `/attachments/0" alt="screen.png" class="screenshot">`,
		`id="open-session" href="/support/desk/connect?device=` + w.dev["acme"].ID + `"`,
		`<script src="/static/tickets.js" defer></script>`,
		`id="ticket-device" href="/machines?m=` + w.dev["acme"].ID + `"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the ticket page lacks %s", want)
		}
	}
	if strings.Contains(body, `<script>alert`) {
		t.Error("the chat's script is on the page")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("the page's policy: %q", csp)
	}
	resp, body = w.get(t, bob, "/tickets/"+n+"/attachments/0")
	if resp.StatusCode != http.StatusOK || body != shot.String() || resp.Header.Get("Content-Type") != "image/png" ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Content-Security-Policy") != "default-src 'none'; sandbox" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline") {
		t.Errorf("the screenshot: %d %v", resp.StatusCode, resp.Header)
	}
	// Another company's ticket is absent, and so is its screenshot.
	g := w.file(t, "globex", 2, wire.AgentTicket{Attachments: []wire.Attachment{{Name: "s.png", Type: "image/png", Data: shot.Bytes()}}})
	for _, p := range []string{"/tickets/" + g, "/tickets/" + g + "/attachments/0", "/tickets/" + g + "/events"} {
		if resp, _ := w.get(t, bob, p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s out of scope: %d, want 404", p, resp.StatusCode)
		}
	}
}
