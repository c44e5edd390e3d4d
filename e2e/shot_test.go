package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net/http"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"

	"github.com/peerdesk/peerdesk/agent/consent"
	"github.com/peerdesk/peerdesk/agent/hotkey"
	"github.com/peerdesk/peerdesk/agent/inventory"
	"github.com/peerdesk/peerdesk/agent/localui"
	"github.com/peerdesk/peerdesk/agent/outbox"
	"github.com/peerdesk/peerdesk/agent/shot"
	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/harness/xclient"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// TestScreenshotTicket (T5, T4): the end user reports a problem twice —
// with F8 (a real XTEST key press on Xvfb, grabbed by the agent's hotkey)
// and with the page's "Report a problem" button in Chromium — each time
// seeing the screenshot, writing a description and choosing a priority,
// while the help desk is down: the page says the report is queued and
// shows the shop's contacts. When the help desk comes back, each ticket
// arrives once, in order, under the display's user, with the screenshot
// (the screen's pixels) and the system information, and the page says
// they were sent.
//
// The agent's parts run in this process, wired as agent.startReports
// wires them, with the device's credentials from a real enrollment; the
// help desk is a real coordinator (wire.PathAgentTickets), stopped while
// the reports are made and started again on the same address and data.
func TestScreenshotTicket(t *testing.T) {
	harness.Begin(t)
	display := xclient.StartXvfb(t, 640, 480)
	// The screen: the root window painted one colour, by a connection
	// that reads no events (see paintRoot).
	paintRoot(t, display, 0x3366cc)

	// The help desk: a real coordinator, with this machine enrolled; then
	// down.
	c := harness.StartCoordinator(t)
	coord, enrolled := enrollClient(t, c.URL(), c.Identity().CA, c.Token(t, 0), "pc-1")
	c.Stop()

	ob, err := outbox.Open(t.TempDir(), outbox.Options{Logger: harness.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	inv := inventory.New(inventory.Options{AgentVersion: "test", Logger: harness.Logger(t)})
	svc := shot.New(shot.Config{
		Queue: ob, Filer: coord, Logger: harness.Logger(t),
		Screen: func(ctx context.Context) ([]byte, error) { return shot.Screen(ctx, display) },
		System: inv.Collect,
		User:   func() string { return shot.User(display) },
	})
	shown := make(chan string, 4)
	ui, err := localui.Start(localui.Config{
		Hostname: "pc-1", Consent: consent.New(consent.Config{Ask: policy.AttendedConsent}), Logger: harness.Logger(t),
		Report: svc, Contacts: "call 555-0100", Hotkey: "F8",
		Show: func(url string) error { shown <- url; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ui.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	// What the drain delivered, as the agent sent it (the tickets' IDs).
	var sentMu sync.Mutex
	var sent []wire.AgentTicket
	wg.Go(func() {
		ob.Drain(ctx, func(ctx context.Context, it outbox.Item) error { //nolint:errcheck // ends with ctx
			err := svc.Send(ctx, it)
			if err == nil {
				var tk wire.AgentTicket
				if json.Unmarshal(it.Payload, &tk) == nil {
					sentMu.Lock()
					sent = append(sent, tk)
					sentMu.Unlock()
				}
			}
			return err
		})
	})
	pressed := make(chan struct{}, 1)
	hk, err := hotkey.Start(hotkey.Config{Display: display, OnPress: func() {
		select {
		case pressed <- struct{}{}:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer hk.Close()
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-pressed:
				if err := ui.Report(ctx); err != nil {
					t.Errorf("Report: %v", err)
				}
			}
		}
	})

	b := harness.StartBrowser(t)
	tab := b.NewTab(t)

	// F8, pressed for real on the X server.
	pressF8(t, display)
	url := wait.Recv(t, "the page brought up by F8", shown)
	var who string
	harness.Do(t, tab, "describe the F8 report", chromedp.Navigate(url),
		chromedp.WaitVisible(`#reportshot`, chromedp.ByQuery),
		chromedp.Text(`#reportform .muted`, &who, chromedp.ByQuery),
		chromedp.SendKeys(`#description`, "Printer offline\nsince this morning", chromedp.ByQuery),
		chromedp.SetValue(`#priority`, wire.PriorityUrgent, chromedp.ByQuery),
		chromedp.Click(`#reportsend`, chromedp.ByQuery),
		chromedp.WaitVisible(`.reportstatus.queued`, chromedp.ByQuery),
	)
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(who, "Filed as "+me.Username+".") {
		t.Errorf("the form says %q, want it filed under %s (the owner of the display)", who, me.Username)
	}

	// The button, in the same page.
	var status, contacts string
	harness.Do(t, tab, "report with the button", chromedp.Click(`#reportbutton`, chromedp.ByQuery),
		chromedp.WaitVisible(`#reportshot`, chromedp.ByQuery),
		chromedp.SendKeys(`#description`, "Mail will not send", chromedp.ByQuery),
		chromedp.SetValue(`#priority`, wire.PriorityHigh, chromedp.ByQuery),
		chromedp.Click(`#reportsend`, chromedp.ByQuery),
		chromedp.WaitVisible(`#reportbutton`, chromedp.ByQuery),
		chromedp.Text(`#report`, &status, chromedp.ByQuery),
		chromedp.Text(`#contacts`, &contacts, chromedp.ByQuery),
	)
	if n := strings.Count(status, "queued; it will be sent when the help desk is reachable"); n != 2 {
		t.Errorf("the page shows %d queued reports, want 2:\n%s", n, status)
	}
	if !strings.Contains(contacts, "call 555-0100") {
		t.Errorf("contacts shown: %q", contacts)
	}
	if n, _ := ob.Len(); n != 2 {
		t.Fatalf("%d tickets in the outbox, want 2", n)
	}

	// The help desk comes back (the agent's presence stream coming up
	// kicks the outbox; here the test does).
	c = c.Restart(t)
	ob.Kick()
	tech := c.AddTechnician(t, "alice")
	lr, err := coordclient.New(c.URL(), c.Identity().CA).Login(ctx, tech, harness.Password)
	if err != nil {
		t.Fatal(err)
	}
	api := coordclient.New(c.URL(), c.Identity().CA).WithSession(lr.Session)
	var list wire.TicketList
	wait.For(t, "both tickets at the coordinator", func() bool {
		list = wire.TicketList{}
		return api.Do(ctx, http.MethodGet, wire.PathTickets, nil, &list) == nil && len(list.Tickets) >= 2
	})
	harness.Do(t, tab, "the page to say both were sent", chromedp.WaitVisible(`.reportstatus.sent + .reportstatus.sent`, chromedp.ByQuery))
	wait.For(t, "the outbox to empty", func() bool { n, _ := ob.Len(); return n == 0 })
	if list.Total != 2 || len(list.Tickets) != 2 {
		t.Fatalf("%d tickets at the coordinator, want 2: %+v", list.Total, list.Tickets)
	}
	// In order: the first report has the lower number.
	number := func(n string) int { i, _ := strconv.Atoi(strings.TrimPrefix(n, "T-")); return i }
	slices.SortFunc(list.Tickets, func(a, b wire.Ticket) int { return number(a.Number) - number(b.Number) })

	for i, want := range []struct{ title, priority, desc string }{
		{"Printer offline", wire.PriorityUrgent, "Printer offline\nsince this morning"},
		{"Mail will not send", wire.PriorityHigh, "Mail will not send"},
	} {
		var tk wire.Ticket
		if err := api.Do(ctx, http.MethodGet, wire.PathTickets+"/"+list.Tickets[i].Number, nil, &tk); err != nil {
			t.Fatal(err)
		}
		if tk.Title != want.title || tk.Priority != want.priority || tk.Description != want.desc || tk.User != me.Username {
			t.Errorf("ticket %d = %q %q %q by %q; want %q %q %q by %q", i, tk.Title, tk.Priority, tk.Description, tk.User, want.title, want.priority, want.desc, me.Username)
		}
		if tk.Source != "agent" || tk.Device != enrolled.DeviceID || tk.DeviceName != "pc-1" {
			t.Errorf("ticket %d is from %q, device %q %q; want the agent of %s (pc-1)", i, tk.Source, tk.Device, tk.DeviceName, enrolled.DeviceID)
		}
		if len(tk.Attachments) != 2 || tk.Attachments[0].Name != shot.ScreenshotName || tk.Attachments[1].Name != shot.SystemName {
			t.Fatalf("ticket %d attachments: %+v", i, tk.Attachments)
		}
		attachment := func(k int) []byte {
			t.Helper()
			_, data, err := c.Desk().TicketAttachment(desk.Local(), tk.Number, k)
			if err != nil {
				t.Fatalf("ticket %d attachment %d: %v", i, k, err)
			}
			return data
		}
		img, err := png.Decode(bytes.NewReader(attachment(0)))
		if err != nil {
			t.Fatalf("ticket %d screenshot: %v", i, err)
		}
		if img.Bounds().Dx() != 640 || img.Bounds().Dy() != 480 {
			t.Errorf("ticket %d screenshot is %v, want the 640x480 screen", i, img.Bounds())
		}
		for _, p := range [][2]int{{10, 10}, {300, 200}, {630, 470}} {
			if r, g, bl, _ := img.At(p[0], p[1]).RGBA(); r>>8 != 0x33 || g>>8 != 0x66 || bl>>8 != 0xcc {
				t.Errorf("ticket %d screenshot pixel %v is %02x%02x%02x, not the screen's 3366cc", i, p, r>>8, g>>8, bl>>8)
			}
		}
		var sys wire.Inventory
		if err := json.Unmarshal(attachment(1), &sys); err != nil || sys.Hostname == "" || sys.Collected.IsZero() {
			t.Errorf("ticket %d system information: %v %+v", i, err, sys)
		}
	}
	// Sent again (an answer lost): filed once, the first filing's number.
	sentMu.Lock()
	delivered := slices.Clone(sent)
	sentMu.Unlock()
	if len(delivered) != 2 || delivered[0].ID == delivered[1].ID || delivered[0].Title != "Printer offline" {
		t.Fatalf("the agent delivered %d tickets: %+v", len(delivered), delivered)
	}
	if rc, err := coord.FileTicket(ctx, delivered[0]); err != nil || !rc.Duplicate || rc.Ticket != list.Tickets[0].Number {
		t.Errorf("sending the first ticket again = %+v, %v; want %s's receipt marked Duplicate", rc, err, list.Tickets[0].Number)
	}
	if err := api.Do(ctx, http.MethodGet, wire.PathTickets, nil, &list); err != nil || list.Total != 2 {
		t.Errorf("%d tickets after a ticket was sent again (%v), want 2", list.Total, err)
	}
}

// pressF8 presses and releases F8 on display through XTEST.
func pressF8(t *testing.T, display string) {
	t.Helper()
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := xtest.Init(conn); err != nil {
		t.Fatal(err)
	}
	setup := xproto.Setup(conn)
	root := setup.DefaultScreen(conn).Root
	n := int(setup.MaxKeycode) - int(setup.MinKeycode) + 1
	km, err := xproto.GetKeyboardMapping(conn, setup.MinKeycode, byte(n)).Reply()
	if err != nil {
		t.Fatal(err)
	}
	per := int(km.KeysymsPerKeycode)
	for i := range n {
		if km.Keysyms[i*per] == 0xffc5 { // F8
			code := byte(int(setup.MinKeycode) + i)
			for _, typ := range []byte{xproto.KeyPress, xproto.KeyRelease} {
				if err := xtest.FakeInputChecked(conn, typ, code, 0, root, 0, 0, 0).Check(); err != nil {
					t.Fatal(err)
				}
			}
			return
		}
	}
	t.Fatal("no keycode for F8")
}

// paintRoot paints display's root window rgb. It uses no client window:
// jezek/xgb decodes every connection's events through one process-wide
// table that each extension's Init writes, so an X connection of this
// process reading events (a test window's focus events) while the agent's
// capture opens its connection is a data race in xgb. The agent meets it
// too when a screenshot is taken while a screen session's capture reads
// damage events; that is left to a fix in agent/screen/capture.
func paintRoot(t *testing.T, display string, rgb uint32) {
	t.Helper()
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	root := xproto.Setup(conn).DefaultScreen(conn).Root
	if err := xproto.ChangeWindowAttributesChecked(conn, root, xproto.CwBackPixel, []uint32{rgb}).Check(); err != nil {
		t.Fatal(err)
	}
	if err := xproto.ClearAreaChecked(conn, false, root, 0, 0, 0, 0).Check(); err != nil {
		t.Fatal(err)
	}
}
