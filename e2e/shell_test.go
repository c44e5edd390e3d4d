package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/peerdesk/peerdesk/agent"
	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/viewer"
	"github.com/peerdesk/peerdesk/viewer/webui"
	"github.com/peerdesk/peerdesk/wire"
)

// termText is the terminal's buffer as the technician's page holds it:
// the active buffer's lines (the alternate one while a full-screen
// program runs), trailing blanks trimmed.
const termText = `(() => {
  const t = window.peerdeskTerm;
  if (!t) return null;
  const b = t.buffer.active;
  const lines = [];
  for (let i = 0; i < b.length; i++) lines.push(b.getLine(i).translateToString(true));
  return { type: b.type, cols: t.cols, rows: t.rows, text: lines.join('\n'), top: b.getLine(b.viewportY).translateToString(true) };
})()`

type termState struct {
	Type       string
	Cols, Rows int
	Text       string
	Top        string // the first line on screen
}

func readTerm(t testing.TB, tab context.Context) *termState {
	t.Helper()
	var s *termState
	harness.Do(t, tab, "read the terminal", chromedp.Evaluate(termText, &s))
	return s
}

// waitTerm waits until the terminal satisfies cond, saying what it showed
// if it never does.
func waitTerm(t testing.TB, tab context.Context, what string, cond func(*termState) bool) *termState {
	t.Helper()
	var last *termState
	err := wait.Until(harness.Timeout, func() error {
		last = readTerm(t, tab)
		if last == nil || !cond(last) {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil {
		var status, layout string
		chromedp.Run(tab, chromedp.Text(`#status`, &status, chromedp.ByQuery), //nolint:errcheck // diagnostics only
			chromedp.Evaluate(`JSON.stringify({w: innerWidth, h: innerHeight, term: document.getElementById('term').getBoundingClientRect(), fit: window.peerdeskFit && window.peerdeskFit.proposeDimensions()})`, &layout))
		t.Fatalf("%s: the terminal never showed it (status %q, layout %s); last: %+v", what, status, layout, last)
	}
	return last
}

// typeText types s into the terminal: the browser inserts it into
// xterm.js's input element, as a keyboard's text (chromedp's KeyEvent
// sends each key's keydown and its text, which xterm.js would take twice).
func typeText(s string) chromedp.Action {
	return chromedp.Tasks{
		chromedp.Focus(`.xterm-helper-textarea`, chromedp.ByQuery),
		chromedp.ActionFunc(func(ctx context.Context) error { return input.InsertText(s).Do(ctx) }),
	}
}

// pressEnter presses Enter: a key without text, which xterm.js turns into
// a carriage return.
var pressEnter = chromedp.ActionFunc(func(ctx context.Context) error {
	for _, typ := range []input.KeyType{input.KeyRawDown, input.KeyUp} {
		if err := input.DispatchKeyEvent(typ).WithKey("Enter").WithCode("Enter").WithWindowsVirtualKeyCode(13).Do(ctx); err != nil {
			return err
		}
	}
	return nil
})

// typeLine types s and Enter into the terminal, as a person does.
func typeLine(t testing.TB, tab context.Context, s string) {
	t.Helper()
	harness.Do(t, tab, "type "+strconv.Quote(s), typeText(s), pressEnter)
}

// TestShellInBrowser (R4, issue 13 item 3): a senior technician opens a
// shell on an attended machine from the viewer's page. The machine's user
// is asked and allows; their page says the technician can run commands.
// xterm.js runs a command and shows its output, a resize of the browser
// window reaches the PTY (stty size), a full-screen program (top) takes the
// alternate screen and leaves it; the commands typed are in the machine's
// audit trail. The user's End ends the shell: the page says so and the
// shell's processes are gone.
func TestShellInBrowser(t *testing.T) {
	harness.Begin(t)
	c := harness.StartCoordinator(t)
	a := c.EnrollAgent(t, "pc-1") // attended: its user answers
	sam := c.LoginViewer(t, c.AddUser(t, "sam", policy.RoleSenior))
	ui, err := webui.Start(ctx(t), webui.Config{Viewer: sam, Listen: "127.0.0.1:0", Logger: harness.Logger(t).With("part", "webui")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ui.Close() })
	b := harness.StartBrowser(t)
	user, tech := b.Ctx, b.NewTab(t)

	harness.Do(t, user, "the user's page", chromedp.Navigate(a.UI().URL()), chromedp.WaitReady(`body`, chromedp.ByQuery))
	harness.Do(t, tech, "open the shell page",
		chromedp.EmulateViewport(1000, 700),
		chromedp.Navigate(ui.URL()),
		chromedp.WaitVisible(`#sessions`, chromedp.ByQuery),
		chromedp.Navigate(ui.Base()+"/device/"+a.DeviceID()+"/shell"),
		chromedp.WaitVisible(`.xterm-helper-textarea`, chromedp.ByQuery),
	)
	var ask, indicator string
	harness.Do(t, user, "see the question and allow",
		chromedp.WaitVisible(`#allow`, chromedp.ByQuery),
		chromedp.Text(`#ask`, &ask, chromedp.ByQuery),
		chromedp.Click(`#allow`, chromedp.ByQuery),
		chromedp.WaitVisible(`#indicator`, chromedp.ByQuery),
		chromedp.Text(`#indicator`, &indicator, chromedp.ByQuery),
	)
	if !strings.Contains(ask, "sam asks to run commands on this computer") {
		t.Errorf("the user is asked %q", ask)
	}
	if strings.TrimSpace(indicator) != "sam can run commands on this computer" {
		t.Errorf("the user's page says %q while the shell is open", indicator)
	}
	harness.Do(t, tech, "connected", chromedp.WaitVisible(`//span[@id="status"][contains(., "Connected")]`, chromedp.BySearch))

	// A command and its output, read from xterm.js's buffer.
	typeLine(t, tech, "echo $((6*7))")
	waitTerm(t, tech, "the command's output", func(s *termState) bool { return strings.Contains(s.Text, "\n42") })

	// xterm.js's own layout rules apply under the page's strict CSP
	// (static/shell-styles.js): its rows' spans are inline blocks.
	var display string
	harness.Do(t, tech, "read the terminal's layout", chromedp.Evaluate(
		`(() => { const s = document.querySelector('.xterm-rows span'); return s ? getComputedStyle(s).display : 'none'; })()`, &display))
	if display != "inline-block" {
		t.Errorf("xterm.js's rules are not applied: a row's span displays %q", display)
	}

	// The browser window shrinks: the terminal refits and the PTY follows.
	before := readTerm(t, tech)
	// (In front: a background tab runs no layout, so nothing resizes.)
	harness.Do(t, tech, "shrink the window", chromedp.ActionFunc(func(ctx context.Context) error { return page.BringToFront().Do(ctx) }),
		chromedp.EmulateViewport(700, 420))
	after := waitTerm(t, tech, "the terminal to refit", func(s *termState) bool { return s.Cols < before.Cols && s.Rows < before.Rows })
	typeLine(t, tech, "stty size")
	want := fmt.Sprintf("\n%d %d", after.Rows, after.Cols)
	waitTerm(t, tech, "stty size "+want, func(s *termState) bool { return strings.Contains(s.Text, want) })

	// Full-screen programs: top draws the whole screen from its first
	// line; vi takes the alternate screen, and :q leaves it.
	typeLine(t, tech, "top -d 1")
	waitTerm(t, tech, "top on the whole screen", func(s *termState) bool {
		return strings.HasPrefix(s.Top, "top - ") && strings.Contains(s.Text, "load average") && strings.Contains(s.Text, "PID")
	})
	harness.Do(t, tech, "quit top", typeText("q"))
	// Keys typed before top has let go of the terminal are top's to read
	// (and throw away): vi is typed at the shell's prompt.
	waitTerm(t, tech, "the shell's prompt after top", func(s *termState) bool {
		lines := strings.Split(strings.TrimRight(s.Text, " \n"), "\n")
		last := strings.TrimSpace(lines[len(lines)-1])
		return strings.HasSuffix(last, "#") || strings.HasSuffix(last, "$")
	})
	typeLine(t, tech, "vi /etc/hostname")
	host, _ := os.Hostname() //nolint:errcheck // "" fails the check
	waitTerm(t, tech, "vi on the alternate screen", func(s *termState) bool {
		return s.Type == "alternate" && strings.HasPrefix(s.Top, host) && strings.Contains(s.Text, "~")
	})
	typeLine(t, tech, ":q")
	waitTerm(t, tech, "back on the normal screen", func(s *termState) bool { return s.Type == "normal" })

	// The machine recorded the start and the lines typed.
	start := c.WaitAudit(t, "shell.start", "ok", func(r audit.Record) bool { return r.Fields["tty"] == "true" })
	// (What was typed: top's q, taken without Enter, leads the next line.)
	for _, line := range []string{"echo $((6*7))", "stty size", "top -d 1", "qvi /etc/hostname", ":q"} {
		c.WaitAudit(t, "shell.line", "ok", func(r audit.Record) bool {
			return r.Fields["line"] == line && r.Fields["shell"] == start.Fields["shell"]
		})
	}
	pid, err := strconv.Atoi(start.Fields["pid"])
	if err != nil || !running(pid) {
		t.Fatalf("the shell's pid %q is not running", start.Fields["pid"])
	}
	typeLine(t, tech, "sleep 1000 & echo bg=$!")
	var bg int
	waitTerm(t, tech, "a background job", func(s *termState) bool {
		_, after, ok := strings.Cut(s.Text, "\nbg=")
		if ok {
			bg, _ = strconv.Atoi(strings.Fields(after)[0])
		}
		return bg > 0
	})

	// The user ends it on their page.
	harness.Do(t, user, "end", chromedp.Click(`#end`, chromedp.ByQuery))
	var status string
	harness.Do(t, tech, "see the shell end",
		chromedp.WaitVisible(`//span[@id="status"][contains(., "ended")]`, chromedp.BySearch),
		chromedp.Text(`#status`, &status, chromedp.ByQuery))
	if !strings.Contains(status, "ended on the machine") {
		t.Errorf("the technician's page says %q", status)
	}
	c.WaitAudit(t, "shell.end", "ok", func(r audit.Record) bool {
		return r.Fields["shell"] == start.Fields["shell"] && r.Fields["reason"] == wire.ShellEnded
	})
	wait.For(t, "the shell and its job to be gone", func() bool { return !running(pid) && !running(bg) })
}

// running reports whether pid runs (a zombie does not).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z'
}

// TestShellRefusals: the agent refuses a call without a grant and one
// whose grant lacks the shell; the coordinator gives a technician no shell
// grant (their role works backstage without one) and an admin one; and
// peerdesk-viewer shell passes a command's exit status through as its own.
func TestShellRefusals(t *testing.T) {
	harness.Begin(t)
	netns.NowhereLink(t) // the viewer binary's overlay node needs a network
	c := harness.StartCoordinator(t)
	a := c.EnrollAgent(t, "srv-1", func(cfg *agent.Config) { cfg.Unattended = true })
	tina := c.LoginViewer(t, c.AddTechnician(t, "tina"))
	cmd := wire.ShellRequest{Command: []string{"sh", "-c", "exit 0"}}

	if _, err := tina.Shell(ctx(t), a.DeviceID(), cmd); !harness.IsCode(err, wire.CodeForbidden) {
		t.Errorf("a technician's shell: %v, want %s", err, wire.CodeForbidden)
	}
	g, err := tina.Grant(ctx(t), a.DeviceID(), wire.CapSysInfo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tina.ShellWith(ctx(t), g, cmd); !harness.IsCode(err, wire.CodeForbidden) || !strings.Contains(err.Error(), "does not include shell") {
		t.Errorf("a sysinfo grant used for the shell: %v, want %s", err, wire.CodeForbidden)
	}
	if _, err := tina.ShellWith(ctx(t), wire.GrantResponse{OverlayIP: g.OverlayIP}, cmd); !harness.IsCode(err, wire.CodeUnauthorized) {
		t.Errorf("no grant: %v, want %s", err, wire.CodeUnauthorized)
	}
	c.WaitAudit(t, "peer.shell", audit.Denied, func(r audit.Record) bool { return strings.Contains(r.Reason, "no session grant") })

	// An admin may; through the CLI, whose exit status is the command's.
	c.AddUser(t, "ada", policy.RoleAdmin)
	dir := filepath.Join(t.TempDir(), "viewer-ada")
	if _, err := viewer.Login(ctx(t), viewer.LoginOptions{StateDir: dir, CoordinatorURL: c.URL(), Pin: c.Pin(), Username: "ada", Password: harness.Password}); err != nil {
		t.Fatal(err)
	}
	out, err := harness.Run(t, nil, "peerdesk-viewer", "shell", "-state", dir, a.DeviceID(), "--", "sh", "-c", "echo hi from $(hostname); exit 3")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("peerdesk-viewer shell -- sh -c 'exit 3': %v, want exit status 3", err)
	}
	if host, _ := os.Hostname(); out != "hi from "+host+"\n" { //nolint:errcheck // "" fails the check
		t.Errorf("its output: %q", out)
	}
	c.WaitAudit(t, "shell.end", "ok", func(r audit.Record) bool { return r.Fields["claimed_actor"] == "ada" && r.Fields["code"] == "3" })
}
