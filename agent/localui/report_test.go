package localui

import (
	"bytes"
	"context"
	"errors"
	"html"
	"image"
	"image/png"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/peerdesk/peerdesk/agent/consent"
	"github.com/peerdesk/peerdesk/agent/outbox"
	"github.com/peerdesk/peerdesk/agent/shot"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// desk stands for the coordinator: down until up is set.
type desk struct {
	mu    sync.Mutex
	up    bool
	got   []wire.AgentTicket
	filed chan wire.AgentTicket
}

func (d *desk) FileTicket(_ context.Context, t wire.AgentTicket) (wire.AgentTicketReceipt, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.up {
		return wire.AgentTicketReceipt{}, errors.New("connection refused")
	}
	d.got = append(d.got, t)
	d.filed <- t
	return wire.AgentTicketReceipt{Ticket: "T-1042"}, nil
}

var reportShotRe = regexp.MustCompile(`<img id="reportshot" src="([^"]+)"`)
var reportFormRe = regexp.MustCompile(`<form method="post" action="([^"]+)" id="reportform">`)

// TestReportAProblem as a user does it on the page: the button captures
// the screen, the form shows it and takes a description and a priority;
// filed while the help desk is down the report says it is queued, with
// the shop's contacts, and says it was sent once the desk is back.
func TestReportAProblem(t *testing.T) {
	leak.Check(t)
	ob, err := outbox.Open(t.TempDir(), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var pngBuf bytes.Buffer
	png.Encode(&pngBuf, image.NewRGBA(image.Rect(0, 0, 4, 3))) //nolint:errcheck // into memory
	dk := &desk{filed: make(chan wire.AgentTicket, 4)}
	svc := shot.New(shot.Config{
		Queue: ob, Filer: dk, User: func() string { return "erin" },
		Screen: func(context.Context) ([]byte, error) { return pngBuf.Bytes(), nil },
		System: func(context.Context) (wire.Inventory, error) {
			return wire.Inventory{Hostname: "pc-1", Platform: "debian", OSVersion: "12"}, nil
		},
	})
	var shown []string
	var shownMu sync.Mutex
	u, err := Start(Config{
		Hostname: "pc-1", Consent: consent.New(consent.Config{Ask: policy.AttendedConsent}),
		Report: svc, Contacts: "call 555-0100 or mail help@shop.example", Hotkey: "F8",
		Show: func(url string) error { shownMu.Lock(); shown = append(shown, url); shownMu.Unlock(); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	// The hotkey's path: a report taken while no page is open brings the
	// page up to describe it.
	shownMu.Lock()
	before := len(shown)
	shownMu.Unlock()
	if err := u.Report(context.Background()); err != nil {
		t.Fatal(err)
	}
	shownMu.Lock()
	after := len(shown)
	shownMu.Unlock()
	if _, ok := svc.Draft(); !ok || after != before+1 {
		t.Errorf("after Report: draft %v, pages brought up %d → %d; want a draft and one page", ok, before, after)
	}
	d, _ := svc.Draft()
	svc.Discard(d.ID)
	e := &env{u: u}
	c, page := e.browser(t)
	body := get(t, c, page)
	if !strings.Contains(body, `id="reportbutton"`) || !strings.Contains(body, "press F8") {
		t.Fatalf("no Report a problem button on the page:\n%s", body)
	}
	if code := post(t, c, page, u.base+"report", nil); code != 303 {
		t.Fatalf("pressing the button: %d", code)
	}
	body = get(t, c, page)
	m := reportShotRe.FindStringSubmatch(body)
	fm := reportFormRe.FindStringSubmatch(body)
	if m == nil || fm == nil {
		t.Fatalf("no screenshot and form after pressing the button:\n%s", body)
	}
	for _, want := range []string{"Filed as erin.", "Computer: pc-1.", "System: debian 12.", `<option value="high">`, `<option value="normal" selected>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the form lacks %q", want)
		}
	}
	if strings.Contains(body, `http-equiv="refresh"`) {
		t.Error("the page refreshes itself while the user types a description")
	}
	base, _ := url.Parse(page)
	if got := get(t, c, base.Scheme+"://"+base.Host+html.UnescapeString(m[1])); got != pngBuf.String() {
		t.Error("the screenshot served is not the one taken")
	}
	if v1, v2 := version(t, c, page), version(t, c, page); v1 != v2 {
		t.Errorf("the page's version changes while nothing does (%s, %s): it would reload forever", v1, v2)
	}

	// The help desk is down: the report is queued, and the page says so.
	v := version(t, c, page)
	changed := events(t, c, page, v)
	if code := post(t, c, page, fm[1], url.Values{"description": {"Printer offline\nsince 9"}, "priority": {"high"}}); code != 303 {
		t.Fatalf("submitting: %d", code)
	}
	wait.Recv(t, "the page to hear of the filed report", changed)
	body = get(t, c, page)
	for _, want := range []string{"is queued; it will be sent when the help desk is reachable", "Need help now? call 555-0100 or mail help@shop.example", `id="reportbutton"`} {
		if !strings.Contains(html.UnescapeString(body), want) {
			t.Errorf("after filing while down, the page lacks %q:\n%s", want, body)
		}
	}
	if n, _ := ob.Len(); n != 1 {
		t.Fatalf("%d items in the outbox, want the ticket", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ob.Drain(ctx, svc.Send) }()
	defer func() { cancel(); <-done }()

	// Back: sent once, and the page says so.
	v = version(t, c, page)
	changed = events(t, c, page, v)
	dk.mu.Lock()
	dk.up = true
	dk.mu.Unlock()
	ob.Kick()
	tk := wait.Recv(t, "the ticket at the help desk", dk.filed)
	if tk.Title != "Printer offline" || tk.Priority != "high" || tk.User != "erin" || len(tk.Attachments) != 2 {
		t.Errorf("filed %+v", tk)
	}
	wait.Recv(t, "the page to hear the report was sent", changed)
	wait.For(t, "the page to say it was sent", func() bool {
		return strings.Contains(html.UnescapeString(get(t, c, page)), "was sent to the help desk as T-1042")
	})
	if strings.Contains(get(t, c, page), "Need help now?") {
		t.Error("the contacts are still shown with nothing queued")
	}
}
