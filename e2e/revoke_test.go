package e2e

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/peerdesk/peerdesk/agent"
	"github.com/peerdesk/peerdesk/agent/state"
	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/harness/xclient"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/viewer"
	"github.com/peerdesk/peerdesk/viewer/webui"
	"github.com/peerdesk/peerdesk/wire"
)

// revokeWithin is issue 11's property (item 3): disabling a user or
// removing a device takes effect within 5 s. The design delivers in
// milliseconds (a message down an open presence stream); the bound is
// the claim, not a measure of speed.
const revokeWithin = 5 * time.Second

// TestM5DisabledTechnicianSessionEnds (M5, issue 11 item 3, end to end):
// bob and carol each watch an unattended machine's screen through their
// own viewer page, frames flowing. The admin disables bob through the
// local admin socket (what `peerdesk admin user disable bob` sends).
// Within 5 s bob's machine ends his session, learning of it over its
// presence stream: the agent's records of the end, with reason "revoked",
// reach the coordinator's audit trail and bob's page says why it ended.
// Bob's overlay node is deleted, his next grant request is refused, and
// carol's session, on the same overlay, keeps delivering new pictures.
//
// One machine per technician: an agent serves one screen session at a
// time (a second technician's offer is refused as busy).
func TestM5DisabledTechnicianSessionEnds(t *testing.T) {
	harness.Begin(t)
	netns.NowhereLink(t) // Chromium gathers WebRTC candidates only with a network
	const W, H = 640, 480
	c := harness.StartCoordinator(t)

	type desk struct {
		name    string
		win     *xclient.Window
		agent   *harness.Agent
		viewer  *viewer.Viewer
		tab     context.Context
		nodeKey string
	}
	browser := harness.StartBrowser(t)
	start := func(name, host string, tab context.Context) *desk {
		display := xclient.StartXvfb(t, W, H)
		win := xclient.OpenWindow(t, display, 0, 0, W, H)
		if err := win.DrawPattern(); err != nil {
			t.Fatal(err)
		}
		a := c.EnrollAgent(t, host, harness.WithDisplay(display, true)) // unattended: nobody to ask
		v := c.LoginViewer(t, c.AddTechnician(t, name))
		ui, err := webui.Start(ctx(t), webui.Config{Viewer: v, Listen: "127.0.0.1:0", Logger: harness.Logger(t).With("part", "webui-"+name)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ui.Close() })
		harness.Do(t, tab, name+" opens "+host+"'s screen on the viewer page",
			chromedp.Navigate(ui.URL()),
			chromedp.WaitVisible(`#sessions`, chromedp.ByQuery),
			chromedp.Navigate(ui.Base()+"/device/"+a.DeviceID()),
			chromedp.WaitVisible(`#screen`, chromedp.ByQuery),
		)
		waitScreen(t, tab, samplePoints(W, H), xclient.PatternColor, name+"'s session on "+host)
		n, err := v.Node(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		key, err := n.NodeKey(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		return &desk{name: name, win: win, agent: a, viewer: v, tab: tab, nodeKey: key}
	}
	// Each in a browser context of its own, as on two technicians'
	// computers: both pages are on 127.0.0.1, whose cookies ignore ports.
	bob := start("bob", "pc-bob", browser.IsolatedTab(t, ""))
	carol := start("carol", "pc-carol", browser.IsolatedTab(t, ""))
	if !bob.agent.ScreenLive() || !carol.agent.ScreenLive() {
		t.Fatalf("sessions live before the disable: bob %v, carol %v", bob.agent.ScreenLive(), carol.agent.ScreenLive())
	}
	if !slices.ContainsFunc(c.Overlay().Nodes(), func(n overlay.Node) bool { return n.NodeKey == bob.nodeKey }) {
		t.Fatalf("bob's node %s is not on the overlay before the disable", bob.nodeKey)
	}

	began := time.Now()
	if err := c.Admin.UserAction(ctx(t), wire.LocalUserAction{Name: "bob", Action: wire.UserDisable}); err != nil {
		t.Fatalf("disabling bob: %v", err)
	}
	wait.For(t, "bob's machine to end his screen session", func() bool { return !bob.agent.ScreenLive() })
	took := time.Since(began)
	t.Logf("bob's screen session ended at his machine %v after the disable call", took)
	if took > revokeWithin {
		t.Errorf("bob's session ended %v after he was disabled, want within %v", took, revokeWithin)
	}

	// The machine's own account of it, forwarded to the coordinator: the
	// revocation it received, and the end of bob's session.
	fromBob := func(action string, match func(audit.Record) bool) audit.Record {
		return c.WaitAudit(t, action, "ok", func(r audit.Record) bool {
			return r.Source == "agent:"+bob.agent.DeviceID() && r.Reason == "revoked" && match(r)
		})
	}
	rev := fromBob("revoke", func(r audit.Record) bool { return r.Fields["technician"] == "bob" })
	end := fromBob("consent.end", func(r audit.Record) bool { return r.Fields["technician"] == "bob" })
	t.Logf("bob's machine recorded the revocation (%q, ended %s) and the end of his session (capabilities %s)",
		rev.Fields["cause"], rev.Fields["ended"], end.Fields["capabilities"])
	harness.Do(t, bob.tab, "bob's page says his session was ended",
		chromedp.WaitVisible(`//*[@id="status" and contains(., "The session ended: revoked")]`, chromedp.BySearch))

	// His overlay node is deleted: the coordinator lists it no more.
	wait.For(t, "bob's overlay node to be deleted", func() bool {
		return !slices.ContainsFunc(c.Overlay().Nodes(), func(n overlay.Node) bool { return n.NodeKey == bob.nodeKey })
	})
	t.Logf("bob's overlay node was deleted %v after the disable call", time.Since(began))
	// No new grant: his session with the coordinator is refused.
	_, err := bob.viewer.Coordinator().Grant(ctx(t), wire.GrantRequest{DeviceID: bob.agent.DeviceID(), NodeKey: bob.nodeKey, Capabilities: []wire.Capability{wire.CapScreen}})
	if code := coordclient.Code(err); code != wire.CodeUnauthorized && code != wire.CodeForbidden {
		t.Fatalf("bob's grant request after the disable: %v (code %q), want a refusal", err, code)
	}
	// Nor on a machine he never used, through his logged-in viewer.
	if _, err := bob.viewer.Coordinator().Grant(ctx(t), wire.GrantRequest{DeviceID: carol.agent.DeviceID(), NodeKey: bob.nodeKey, Capabilities: []wire.Capability{wire.CapSysInfo}}); err == nil {
		t.Fatal("bob was granted carol's machine after the disable")
	}

	// Carol's session lives on: her machine is still streaming, and a
	// change on her screen after bob's end reaches her page.
	if !carol.agent.ScreenLive() {
		t.Fatal("carol's session ended with bob's revocation")
	}
	green := color.RGBA{30, 190, 60, 255}
	if err := carol.win.FillRect(image.Rect(0, 0, W, H), green); err != nil {
		t.Fatal(err)
	}
	waitScreen(t, carol.tab, samplePoints(W, H), func(int, int) color.RGBA { return green }, "carol's session after bob's was revoked")
	var status string
	harness.Do(t, carol.tab, "read carol's page's status", chromedp.Text(`#status`, &status, chromedp.ByQuery))
	if strings.Contains(status, "ended") {
		t.Fatalf("carol's page says %q", status)
	}
	if !carol.agent.ScreenLive() {
		t.Fatal("carol's session ended")
	}
	if got := agentRecords(t, c, carol.agent.DeviceID(), "consent.end"); len(got) != 0 {
		t.Fatalf("carol's machine ended a session: %+v", got)
	}
}

// agentRecords are the coordinator's audit records with action that the
// agent of device forwarded.
func agentRecords(t *testing.T, c *harness.Coordinator, device, action string) []wire.AuditRecord {
	t.Helper()
	recs, err := c.Admin.Audit(ctx(t), action, "")
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(recs, func(r wire.AuditRecord) bool { return r.Source != "agent:"+device })
}

// TestM5RemovedDeviceLeaves (M5, issue 11 item 3, end to end): an
// enrolled machine that a technician reaches over the overlay is removed
// through the local admin socket (`peerdesk admin device remove`). Within
// 5 s its overlay node leaves the technician's peers, and its presence
// stream is ended by the coordinator (the agent sees the stream break, and
// its reconnection is refused). Its device credentials open nothing more;
// the machine cannot enroll again with a new token until the admin resets
// it, and then it can.
func TestM5RemovedDeviceLeaves(t *testing.T) {
	harness.Begin(t)
	c := harness.StartCoordinator(t)
	v := c.LoginViewer(t, c.AddTechnician(t, "alice"))

	machine := harness.NewMachineID()
	dir := filepath.Join(t.TempDir(), "pc-gone")
	if _, err := agent.Enroll(ctx(t), agent.EnrollOptions{
		StateDir: dir, CoordinatorURL: c.URL(), Token: c.Token(t, 0), Hostname: "pc-gone", MachineID: machine,
	}); err != nil {
		t.Fatal(err)
	}
	st, err := state.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logTap{}
	a := harness.RunAgent(t, dir, "pc-gone", func(cfg *agent.Config) { cfg.Logger = slog.New(logs) })
	device := a.DeviceID()

	// Alice reaches the machine peer to peer: it is one of her peers.
	if _, err := try(func(c context.Context) (wire.Inventory, error) { return v.SysInfo(c, device) }); err != nil {
		t.Fatal(err)
	}
	n, err := v.Node(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	agentKey, err := a.Node().NodeKey(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	isPeer := func() bool {
		peers, err := try(n.Peers)
		if err != nil {
			t.Logf("alice's peers: %v", err)
			return true // not known to be gone
		}
		return slices.ContainsFunc(peers, func(p node.Peer) bool { return p.NodeKey == agentKey })
	}
	if !isPeer() {
		t.Fatal("the machine is not among alice's peers before its removal")
	}
	// Its presence stream is up (the coordinator counts it online) and
	// has not broken so far.
	wait.For(t, "the machine to be online", func() bool {
		devs, err := try(c.Admin.Devices)
		return err == nil && slices.ContainsFunc(devs, func(d wire.AdminDevice) bool { return d.ID == device && d.Online })
	})
	before := len(logs.find(presenceEnded))

	began := time.Now()
	if err := c.Admin.DeviceAction(ctx(t), wire.LocalDeviceAction{ID: device, Action: wire.DeviceRemove}); err != nil {
		t.Fatalf("removing the machine: %v", err)
	}
	wait.For(t, "the removed machine to leave alice's peers", func() bool { return !isPeer() })
	gone := time.Since(began)
	t.Logf("the removed machine left alice's peers %v after the remove call", gone)
	if gone > revokeWithin {
		t.Errorf("the removed machine left alice's peers %v after the remove call, want within %v", gone, revokeWithin)
	}
	if slices.ContainsFunc(c.Overlay().Nodes(), func(n overlay.Node) bool { return n.NodeKey == agentKey }) {
		t.Fatal("the coordinator still lists the removed machine's overlay node")
	}

	// The coordinator ended its presence stream: the agent saw it break
	// (not refused: it was open), and its reconnection was refused.
	var ended []slog.Record
	if err := wait.Until(harness.Timeout, func() error {
		if ended = logs.find(presenceEnded); len(ended) > before {
			return nil
		}
		return errors.New("not ended")
	}); err != nil {
		t.Fatalf("the removed machine's presence stream was not ended in %v; the agent logged: %s", harness.Timeout, logs.messages())
	}
	t.Logf("the removed machine's presence stream ended %v after the remove call: %s", time.Since(began), attr(ended[before], "err"))
	if took := ended[before].Time.Sub(began); took > revokeWithin {
		t.Errorf("the removed machine's presence stream ended %v after the remove call, want within %v", took, revokeWithin)
	}
	if err := attr(ended[before], "err"); strings.Contains(err, "401") {
		t.Fatalf("the first end of the stream after the removal was a refusal (%s): the stream open at the removal was not ended", err)
	}
	if err := wait.Until(harness.Timeout, func() error {
		if slices.ContainsFunc(logs.find(presenceEnded), func(r slog.Record) bool { return strings.Contains(attr(r, "err"), "401") }) {
			return nil
		}
		return errors.New("not refused")
	}); err != nil {
		t.Fatalf("the removed machine's presence stream was not refused when it reconnected; the agent logged: %s", logs.messages())
	}

	// Its device credentials open nothing more.
	ca, err := st.CA()
	if err != nil {
		t.Fatal(err)
	}
	dc := coordclient.New(c.URL(), ca).WithDevice(st.DeviceID, st.DeviceSecret)
	if err := dc.Heartbeat(ctx(t), wire.Heartbeat{}); coordclient.Code(err) != wire.CodeUnauthorized {
		t.Fatalf("a heartbeat with the removed machine's credentials: %v, want unauthorized", err)
	}
	if err := dc.Inventory(ctx(t), wire.Inventory{Hostname: "pc-gone"}); coordclient.Code(err) != wire.CodeUnauthorized {
		t.Fatalf("an inventory report with the removed machine's credentials: %v, want unauthorized", err)
	}
	// Nobody is granted the removed machine.
	if _, err := v.Grant(ctx(t), device, wire.CapSysInfo); err == nil {
		t.Fatal("alice was granted the removed machine")
	}

	// The machine may not enroll again, even with a new token, until the
	// admin resets it.
	enroll := func() error {
		_, err := agent.Enroll(ctx(t), agent.EnrollOptions{
			StateDir: filepath.Join(t.TempDir(), "again"), CoordinatorURL: c.URL(), Token: c.Token(t, 0), Hostname: "pc-gone", MachineID: machine,
		})
		return err
	}
	if err := enroll(); err == nil || !strings.Contains(err.Error(), "removed by an admin") {
		t.Fatalf("enrolling the removed machine again: %v, want a refusal until it is reset", err)
	}
	if err := c.Admin.DeviceAction(ctx(t), wire.LocalDeviceAction{ID: device, Action: wire.DeviceReset}); err != nil {
		t.Fatalf("resetting the machine: %v", err)
	}
	if err := enroll(); err != nil {
		t.Fatalf("enrolling the machine after the reset: %v", err)
	}
	c.WaitAudit(t, "device.remove", "ok", func(r audit.Record) bool { return r.Target == device })
	c.WaitAudit(t, "device.reset", "ok", func(r audit.Record) bool { return r.Target == device })
}

// presenceEnded is what the agent logs when its presence stream ends.
const presenceEnded = "presence stream ended; reconnecting"

// logTap keeps every record logged through it, at every level.
type logTap struct {
	mu   sync.Mutex
	recs []slog.Record
	with []slog.Attr
}

func (l *logTap) Enabled(context.Context, slog.Level) bool { return true }

func (l *logTap) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}

// WithAttrs and WithGroup share the records: the test looks for messages
// and their own attributes.
func (l *logTap) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logTap) WithGroup(string) slog.Handler      { return l }

// find returns the records with message msg, in order.
func (l *logTap) find(msg string) []slog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slog.Record
	for _, r := range l.recs {
		if r.Message == msg {
			out = append(out, r)
		}
	}
	return out
}

// messages lists what was logged about the presence stream and every
// warning, for failure messages (not the overlay node's chatter).
func (l *logTap) messages() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range l.recs {
		if r.Level < slog.LevelWarn && !strings.Contains(r.Message, "presence") {
			continue
		}
		fmt.Fprintf(&b, "\n\t%s %s %s", r.Time.Format("15:04:05.000"), r.Level, r.Message)
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value.Any())
			return true
		})
	}
	return b.String()
}

// attr is the value of r's attribute key, as text.
func attr(r slog.Record, key string) string {
	var v string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = fmt.Sprint(a.Value.Any())
			return false
		}
		return true
	})
	return v
}
