package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/harness/xclient"
)

// TestFirstHour is the first hour of a new shop, as the README tells it and
// with nothing the README does not say: the coordinator starts on a fresh
// data directory; the first admin comes from the local command (password
// by PEERDESK_PASSWORD); the admin logs in to the dashboard and adds a
// technician on the Users page; the technician logs the viewer in (the
// password on standard input), logs in to the dashboard, lands on Support
// and generates a code; the end user, in a browser of their own, types the
// code on the portal, downloads the one-time agent and runs it; the
// technician clicks Connect before starting the viewer and is told how to
// start it; starts `peerdesk-viewer ui`; Connect again opens the session
// page in one click, the user allows, and the screen is live. Every page
// along the way is photographed (`just shots` keeps them in docs/shots).
func TestFirstHour(t *testing.T) {
	harness.Begin(t)
	netns.NowhereLink(t)
	const W, H = 1024, 640
	display := xclient.StartXvfb(t, W, H)
	win := xclient.OpenWindow(t, display, 0, 0, W, H)
	if err := win.DrawPattern(); err != nil {
		t.Fatal(err)
	}

	// The admin's machine: `peerdesk serve` on a fresh data directory.
	data := t.TempDir()
	serve := harness.Start(t, nil, "peerdesk", "serve", "-data", data, "-listen", "127.0.0.1:0", "-stun", "127.0.0.1:0",
		"-support-binaries", harness.SupportBinaries(t), "-log-level", "warn")
	base := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(serve.WaitLine(t, "url:")), "url:"))
	pin := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(serve.WaitLine(t, "CA pin:")), "CA pin:"))
	const adminPW, techPW = "first-admin-password-1", "first-tech-password-1"
	wait.ForErr(t, "the first admin created by the local command", func() error {
		out, err := harness.Run(t, []string{"PEERDESK_PASSWORD=" + adminPW}, "peerdesk", "admin", "add-user", "-data", data, "-name", "ada", "-role", "admin")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if !strings.Contains(out, "created ada (admin)") {
			t.Fatalf("add-user said %q", out)
		}
		return nil
	})

	b := harness.StartBrowser(t, harness.TrustSPKI(harness.SPKIPinAt(t, base)))
	admin := b.IsolatedTab(t, "")
	viewport := chromedp.EmulateViewport(1200, 800)
	harness.Do(t, admin, "open the dashboard", viewport, chromedp.Navigate(base), chromedp.WaitVisible(`input[name="user"]`, chromedp.ByQuery))
	harness.Shot(t, admin, "01-login")
	login(t, admin, "ada", adminPW)
	harness.Do(t, admin, "add a technician on the Users page",
		chromedp.Click(`//nav//a[normalize-space()="Users"]`, chromedp.BySearch),
		chromedp.WaitVisible(`form[action="/users"] input[name="name"]`, chromedp.ByQuery),
		chromedp.SendKeys(`form[action="/users"] input[name="name"]`, "tess", chromedp.ByQuery),
		chromedp.SendKeys(`form[action="/users"] input[name="password"]`, techPW, chromedp.ByQuery),
		chromedp.SetValue(`form[action="/users"] select[name="role"]`, "technician", chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Add user"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//td[normalize-space()="tess"]`, chromedp.BySearch),
	)
	harness.Shot(t, admin, "02-users")
	for _, p := range []struct{ nav, wait, name string }{
		{"Settings", `//h1[normalize-space()="Settings"]`, "03-settings"},
		{"Machines", `//h1`, "04-machines"},
		{"Enrollment tokens", `//h1`, "05-enrollment"},
		{"Device administration", `//h1`, "05-device-admin"},
	} {
		harness.Do(t, admin, "open "+p.nav, chromedp.Click(`//nav//a[contains(normalize-space(), "`+p.nav+`")]`, chromedp.BySearch), chromedp.WaitVisible(p.wait, chromedp.BySearch))
		harness.Shot(t, admin, p.name)
	}
	harness.Do(t, admin, "begin two-factor set-up", chromedp.Click(`//nav//a[normalize-space()="Settings"]`, chromedp.BySearch),
		chromedp.Click(`//button[normalize-space()="Set up two-factor authentication"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#totp-secret`, chromedp.ByQuery), chromedp.ScrollIntoView(`#totp-setup`, chromedp.ByQuery))
	harness.Shot(t, admin, "03-settings-2fa")

	// The technician: the viewer logs in (password on standard input, as
	// a script would give it), then the dashboard.
	vstate := t.TempDir()
	out, err := harness.RunInput(t, nil, techPW+"\n", "peerdesk-viewer", "login", "-state", vstate, "-coordinator", base, "-pin", pin, "-user", "tess")
	if err != nil {
		t.Fatalf("peerdesk-viewer login: %v\n%s", err, out)
	}
	tech := b.IsolatedTab(t, "")
	harness.Do(t, tech, "open the dashboard", viewport, chromedp.Navigate(base), chromedp.WaitVisible(`input[name="user"]`, chromedp.ByQuery))
	login(t, tech, "tess", techPW)
	var code string
	harness.Do(t, tech, "land on Support and generate a code",
		chromedp.WaitVisible(`//h1[normalize-space()="Support"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#board-empty`, chromedp.ByQuery),
	)
	harness.Shot(t, tech, "06-support-empty")
	harness.Do(t, tech, "generate a code",
		chromedp.Click(`input[name="assign"][value="me"]`, chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Generate code"]`, chromedp.BySearch),
		chromedp.Text(`#new-code`, &code, chromedp.ByQuery),
	)
	if len(code) != 6 {
		t.Fatalf("the Support tab shows the code %q", code)
	}
	harness.Shot(t, tech, "07-support-code")

	// The end user: the portal, the download, the one-time agent.
	downloads := t.TempDir()
	user := b.IsolatedTab(t, downloads)
	dl := `a[href="/support/download/` + code + `/linux-amd64"]`
	harness.Do(t, user, "open the portal", viewport, chromedp.Navigate(base+"/support"), chromedp.WaitVisible(`input[name="code"]`, chromedp.ByQuery))
	harness.Shot(t, user, "08-portal")
	harness.Do(t, user, "type the code",
		chromedp.SendKeys(`input[name="code"]`, code, chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Continue"]`, chromedp.BySearch),
		chromedp.WaitVisible(dl, chromedp.ByQuery),
	)
	harness.Shot(t, user, "09-portal-download")
	harness.Do(t, user, "download", chromedp.Click(dl, chromedp.ByQuery))
	file := filepath.Join(downloads, "peerdesk-support-"+code)
	harness.WaitFile(t, file)
	if err := os.Chmod(file, 0o755); err != nil {
		t.Fatal(err)
	}
	opener := harness.NewOpener(t)
	agent := harness.StartPath(t, append([]string{"DISPLAY=" + display, "TMPDIR=" + t.TempDir()}, opener.Env()...), file)
	agent.WaitLine(t, "your page opens in your browser")
	harness.Do(t, user, "open the end user's page", chromedp.Navigate(opener.Next(t)), chromedp.WaitVisible(`#waiting`, chromedp.ByQuery))
	harness.Shot(t, user, "10-agent-waiting")

	// Connect, before the viewer runs: the page says how to start it.
	row := `#mine tr[id^="session-"] a.button`
	var words string
	harness.Do(t, tech, "connect without a viewer",
		chromedp.WaitVisible(row, chromedp.ByQuery),
		chromedp.Click(row, chromedp.ByQuery),
		chromedp.WaitVisible(`#viewer-not-running`, chromedp.ByQuery),
		chromedp.Text(`main`, &words, chromedp.ByQuery),
	)
	if !strings.Contains(words, "peerdesk-viewer ui") {
		t.Errorf("the start-your-viewer page does not name the command:\n%s", words)
	}
	harness.Shot(t, tech, "11-start-your-viewer")
	ui := harness.Start(t, nil, "peerdesk-viewer", "ui", "-state", vstate)
	if line := ui.WaitLine(t, "session page:"); !strings.Contains(line, "http://127.0.0.1:7071/") {
		t.Errorf("peerdesk-viewer ui prints %q, want the page on http://127.0.0.1:7071", line)
	}
	// Connect again, once the coordinator sees the viewer on the overlay
	// (asked without following the answer: Connect redirects to the
	// viewer then), opens the session page in one click.
	wait.ForErr(t, "the coordinator to see the viewer", func() error {
		var kind string
		harness.Do(t, tech, "ask where Connect leads", chromedp.Evaluate(
			`fetch(document.getElementById('connect-again').href, {redirect: 'manual'}).then(r => r.type)`, &kind,
			func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
		if kind != "opaqueredirect" {
			return fmt.Errorf("Connect answers %q, not a redirect to the viewer", kind)
		}
		return nil
	})
	var at string
	harness.Do(t, tech, "connect again", chromedp.Click(`#connect-again`, chromedp.ByQuery), chromedp.WaitVisible(`#screen`, chromedp.ByQuery), chromedp.Location(&at))
	if !strings.HasPrefix(at, "http://127.0.0.1:7071/session/") {
		t.Fatalf("Connect led to %s", at)
	}
	harness.Do(t, tech, "the session page asks to confirm", chromedp.WaitVisible(`#connect`, chromedp.ByQuery))
	harness.Shot(t, tech, "12-viewer-confirm")
	harness.Do(t, tech, "confirm", chromedp.Click(`#connect`, chromedp.ByQuery))
	harness.Do(t, user, "see the question", chromedp.WaitVisible(`#allow`, chromedp.ByQuery))
	harness.Shot(t, user, "13-agent-question")
	harness.Do(t, user, "allow", chromedp.Click(`#allow`, chromedp.ByQuery), chromedp.WaitVisible(`#indicator`, chromedp.ByQuery))
	waitScreen(t, tech, samplePoints(W, H), xclient.PatternColor, "the first hour's live screen")
	harness.Shot(t, tech, "14-viewer-live")
	harness.Shot(t, user, "15-agent-connected")

	// The admin sees the session on the desk, and the machine page.
	harness.Do(t, admin, "the Support tab", chromedp.Click(`//nav//a[normalize-space()="Support"]`, chromedp.BySearch),
		chromedp.WaitVisible(`tr[id^="session-"]`, chromedp.ByQuery))
	harness.Shot(t, admin, "16-support-live")
	harness.Do(t, tech, "the viewer's home", chromedp.Navigate("http://127.0.0.1:7071/"), chromedp.WaitVisible(`#sessions`, chromedp.ByQuery))
	harness.Shot(t, tech, "17-viewer-home")
}

// login logs in on the dashboard's login form open in tab.
func login(t *testing.T, tab context.Context, user, password string) {
	t.Helper()
	harness.Do(t, tab, "log in as "+user,
		chromedp.WaitVisible(`input[name="user"]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name="user"]`, user, chromedp.ByQuery),
		chromedp.SendKeys(`input[name="password"]`, password, chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Log in"]`, chromedp.BySearch),
		chromedp.WaitVisible(`nav`, chromedp.ByQuery),
	)
}
