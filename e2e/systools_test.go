package e2e

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/peerdesk/peerdesk/agent"
	"github.com/peerdesk/peerdesk/agent/services/systemdtest"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/viewer"
	"github.com/peerdesk/peerdesk/viewer/webui"
	"github.com/peerdesk/peerdesk/wire"
)

// testJournal unpacks the logs package's test journal (seven entries of
// known priorities, agent/logs/testdata/make-journal.sh) into a directory
// the agent reads with journalctl --directory.
func testJournal(t *testing.T) string {
	t.Helper()
	f, err := os.Open("../agent/logs/testdata/test.journal.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "test.journal"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestSystemTools (issue 13 item 4, R4): a technician opens a machine's
// system tools in their viewer page and, peer to peer, ends a process
// (a real sleep, named by pid and start time), restarts a service and
// reads the event log filtered by level. This machine runs no systemd, so
// the agent's services capability talks D-Bus to a fake systemd on a
// private dbus-daemon (agent.Config.ServicesBus, package systemdtest);
// the event log is a journal file read with journalctl --directory
// (agent.Config.JournalDir). A viewer-role technician sees a plain
// refusal on the same page.
func TestSystemTools(t *testing.T) {
	harness.Begin(t)
	netns.NowhereLink(t)
	bus := systemdtest.Start(t,
		systemdtest.Unit{Name: "demo.service", Description: "Demo daemon", Active: true, FileState: "enabled"},
		systemdtest.Unit{Name: "cron.service", Description: "Regular background program processing daemon", Active: true, FileState: "enabled"},
	)
	c := harness.StartCoordinator(t)
	a := c.EnrollAgent(t, "server-9", func(cfg *agent.Config) {
		cfg.Unattended, cfg.ServicesBus, cfg.JournalDir = true, bus.Address(), testJournal(t)
	})
	tina := c.LoginViewer(t, c.AddTechnician(t, "tina"))
	ui, err := webui.Start(ctx(t), webui.Config{Viewer: tina, Listen: "127.0.0.1:0", Logger: harness.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ui.Close() })

	// The process to end: a real child of this test, on the agent's
	// machine (the agent runs in this process).
	sleeper := exec.Command("sleep", "1000")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	ended := sync.OnceValue(sleeper.Wait)
	t.Cleanup(func() {
		sleeper.Process.Kill() //nolint:errcheck // may have ended
		ended()                //nolint:errcheck // reaped
	})
	pid := strconv.Itoa(sleeper.Process.Pid)

	tab := harness.StartBrowser(t).Ctx
	row := `#proc-rows [data-pid="` + pid + `"]`
	var status string
	harness.Do(t, tab, "end the sleep from the processes tab",
		chromedp.Navigate(ui.URL()),
		chromedp.WaitVisible(`#sessions`, chromedp.ByQuery),
		chromedp.Navigate(ui.Base()+"/device/"+a.DeviceID()+"/tools"),
		chromedp.Click(`#system-link`, chromedp.ByQuery),
		chromedp.WaitVisible(`#proc-rows .grid-row`, chromedp.ByQuery),
		chromedp.SendKeys(`#proc-filter`, pid, chromedp.ByQuery),
		chromedp.WaitVisible(row+` button.kill`, chromedp.ByQuery),
		chromedp.Click(row+` button.kill`, chromedp.ByQuery),
		chromedp.WaitVisible(`#proc-confirm-yes`, chromedp.ByQuery),
		chromedp.Click(`#proc-confirm-yes`, chromedp.ByQuery),
		chromedp.Poll(`document.getElementById('proc-status').textContent.startsWith('Ended sleep')`, nil),
		chromedp.Text(`#proc-status`, &status, chromedp.ByQuery),
	)
	if !strings.Contains(status, "process "+pid) {
		t.Errorf("status after the kill: %q", status)
	}
	err = ended()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Fatalf("the sleep ended with %v, want SIGTERM", err)
	}
	wait.ForErr(t, "the kill in the agent's audit trail", func() error {
		evs, err := a.Audit().All()
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if ev.Action == "processes.kill" && ev.Fields["pid"] == pid && ev.Fields["name"] == "sleep" && ev.Actor == "tina" {
				return nil
			}
		}
		return fmt.Errorf("no processes.kill record among %d", len(evs))
	})

	var svc string
	harness.Do(t, tab, "restart a service",
		chromedp.Click(`#tab-services`, chromedp.ByQuery),
		chromedp.WaitVisible(`#svc-rows tr[data-name="demo.service"] button.svc-restart`, chromedp.ByQuery),
		chromedp.Click(`#svc-rows tr[data-name="demo.service"] button.svc-restart`, chromedp.ByQuery),
		chromedp.Poll(`document.getElementById('svc-status').textContent.startsWith('Done')`, nil),
		chromedp.Text(`#svc-status`, &svc, chromedp.ByQuery),
	)
	if !strings.Contains(svc, "restart demo.service, now active") {
		t.Errorf("service status: %q", svc)
	}
	if !slices.Equal(bus.Calls(), []string{"RestartUnit demo.service"}) {
		t.Errorf("systemd received %v", bus.Calls())
	}

	var logStatus, logRows string
	var n int
	harness.Do(t, tab, "read errors and worse from the event log",
		chromedp.Click(`#tab-logs`, chromedp.ByQuery),
		chromedp.SetValue(`#log-level`, "3", chromedp.ByQuery),
		chromedp.Click(`#log-show`, chromedp.ByQuery),
		chromedp.Poll(`document.getElementById('log-status').textContent.includes('newest first')`, nil),
		chromedp.Text(`#log-status`, &logStatus, chromedp.ByQuery),
		chromedp.Text(`#log-rows`, &logRows, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('#log-rows tr').length`, &n),
	)
	if n != 3 || !strings.HasPrefix(logStatus, "3 entries") {
		t.Errorf("%d rows, status %q:\n%s", n, logStatus, logRows)
	}
	for _, want := range []string{"later error", "read error on sda", "disk on fire"} {
		if !strings.Contains(logRows, want) {
			t.Errorf("the log lacks %q:\n%s", want, logRows)
		}
	}
	if strings.Contains(logRows, "job slow") || strings.Contains(logRows, "job ran") {
		t.Errorf("the error filter let warnings or information through:\n%s", logRows)
	}

	var apps string
	harness.Do(t, tab, "list the installed applications",
		chromedp.Click(`#tab-apps`, chromedp.ByQuery),
		chromedp.WaitVisible(`#app-rows tr`, chromedp.ByQuery),
		chromedp.Text(`#app-count`, &apps, chromedp.ByQuery),
	)
	if !strings.Contains(apps, "applications") {
		t.Errorf("applications: %q", apps)
	}

	// A viewer-role technician has no processes capability: the page says
	// so in words, from the coordinator's refusal of the grant.
	vic := c.LoginViewer(t, c.AddUser(t, "vic", policy.RoleViewer))
	ui2, err := webui.Start(ctx(t), webui.Config{Viewer: vic, Listen: "127.0.0.1:0", Logger: harness.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ui2.Close() })
	var refusal string
	harness.Do(t, tab, "a viewer opens the processes tab",
		chromedp.Navigate(ui2.URL()),
		chromedp.WaitVisible(`#sessions`, chromedp.ByQuery),
		chromedp.Navigate(ui2.Base()+"/device/"+a.DeviceID()+"/system"),
		chromedp.WaitVisible(`#proc-error`, chromedp.ByQuery),
		chromedp.Text(`#proc-error`, &refusal, chromedp.ByQuery),
	)
	if !strings.HasPrefix(refusal, "Not allowed to use processes on this machine:") {
		t.Errorf("the viewer's refusal: %q", refusal)
	}
}

// TestSystemToolsRefusals: the agent refuses a call without a grant, and
// a grant for processes does not open services, logs or applications
// (each tool is its own grant scope).
func TestSystemToolsRefusals(t *testing.T) {
	harness.Begin(t)
	c := harness.StartCoordinator(t)
	a := c.EnrollAgent(t, "server-10", func(cfg *agent.Config) { cfg.Unattended = true })
	tina := c.LoginViewer(t, c.AddTechnician(t, "tina"))
	g, err := tina.Grant(ctx(t), a.DeviceID(), wire.CapProcesses)
	if err != nil {
		t.Fatal(err)
	}
	n, err := tina.Node(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: n.Dial, DisableKeepAlives: true}}
	call := func(method, path, grant, body string) (int, wire.Error) {
		var code int
		var e wire.Error
		wait.ForErr(t, "the agent to answer "+path+" on the overlay", func() error {
			req, err := http.NewRequestWithContext(ctx(t), method, "http://"+net.JoinHostPort(g.OverlayIP, strconv.Itoa(wire.PeerPort))+path, strings.NewReader(body))
			if err != nil {
				return err
			}
			if grant != "" {
				req.Header.Set(wire.HeaderGrant, grant)
			}
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			code, e = resp.StatusCode, wire.Error{}
			if code != http.StatusOK && json.Unmarshal(b, &e) != nil {
				return fmt.Errorf("%d %s", code, b)
			}
			return nil
		})
		return code, e
	}
	if code, e := call("GET", wire.PeerPathProcesses, g.Grant, ""); code != 200 {
		t.Fatalf("processes with a processes grant: %d %+v", code, e)
	}
	if code, e := call("GET", wire.PeerPathProcesses, "", ""); code != http.StatusUnauthorized || e.Code != wire.CodeUnauthorized {
		t.Errorf("no grant: %d %+v", code, e)
	}
	for _, c := range []struct {
		method, path, body string
		capability         wire.Capability
	}{
		{"GET", wire.PeerPathServices, "", wire.CapServices},
		{"POST", wire.PeerPathServiceDo, `{"name":"cron.service","action":"stop"}`, wire.CapServices},
		{"POST", wire.PeerPathLogs, `{"priority":3}`, wire.CapLogs},
		{"GET", wire.PeerPathApps, "", wire.CapApps},
	} {
		code, e := call(c.method, c.path, g.Grant, c.body)
		if code != http.StatusForbidden || e.Code != wire.CodeForbidden || !strings.Contains(e.Message, "does not include "+string(c.capability)) {
			t.Errorf("%s %s with a processes grant: %d %+v", c.method, c.path, code, e)
		}
	}
	// The viewer's client asks for each tool's own capability; a viewer
	// role's grant for processes is refused by the coordinator.
	vic := c.LoginViewer(t, c.AddUser(t, "vic", policy.RoleViewer))
	if _, err := viewer.NewSysTools(vic).Processes(ctx(t), a.DeviceID()); !harness.IsCode(err, wire.CodeForbidden) {
		t.Errorf("a viewer's process list: %v, want %s", err, wire.CodeForbidden)
	}
}
