//go:build linux

package dashboard

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/supportpack"
)

// stepper returns a function that runs browser actions with a generous
// upper bound each, and on failure shows where the browser is.
func stepper(t *testing.T, ctx context.Context, out *syncBuffer) func(string, ...chromedp.Action) {
	return func(what string, actions ...chromedp.Action) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Run(sctx, actions...); err != nil {
			t.Fatalf("%s: %v\n%s\nChromium's output:\n%s", what, err, page(ctx), out.String())
		}
	}
}

// TestSupportJourney: a technician generates a support code on the Support
// tab; an end user, in a browser context of their own with no cookies,
// mistypes it in the portal, then types it right and downloads the
// one-time agent for Linux through Chromium; the download is the real agent
// executable with the code, the coordinator's URL and its CA pin appended.
// Meanwhile the technician's tab shows a code made elsewhere without a
// reload.
func TestSupportJourney(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("SKIP: %s is absent (%v); install Debian's Chromium (apt-get install -y chromium) to run the browser test", chromium, err)
	}
	bins := t.TempDir()
	copyFile(t, filepath.Join(harness.Binaries(t), "peerdesk-agent"), filepath.Join(bins, "peerdesk-agent-linux-amd64"))
	c := harness.StartCoordinator(t, harness.WithSupportBinaries(bins))
	c.AddUser(t, "bob", policy.RoleTechnician)
	base := c.URL()

	ctx, chromeOut := startBrowser(t, spkiPin(t, c.Identity()))
	run := stepper(t, ctx, chromeOut)
	var code, link string
	run("log in and generate a code for me",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(`input[name="user"]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name="user"]`, "bob", chromedp.ByQuery),
		chromedp.SendKeys(`input[name="password"]`, harness.Password, chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Log in"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//h1[normalize-space()="Machines"]`, chromedp.BySearch),
		chromedp.Click(`//nav//a[normalize-space()="Support"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//h1[normalize-space()="Support"]`, chromedp.BySearch),
		chromedp.Click(`input[name="assign"][value="me"]`, chromedp.ByQuery),
		chromedp.SetValue(`select[name="expiry"]`, "none", chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Generate code"]`, chromedp.BySearch),
		chromedp.Text(`#new-code`, &code, chromedp.ByQuery),
		chromedp.Text(`#portal-link`, &link, chromedp.ByQuery),
	)
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		t.Fatalf("the page shows the code %q", code)
	}
	if link != base+"/support?code="+code {
		t.Errorf("portal link %q, want %s/support?code=%s", link, base, code)
	}
	var assignee string
	run("find the code under Pending codes",
		chromedp.Text(`#pending #code-`+code+` td:nth-child(2)`, &assignee, chromedp.ByQuery))
	if assignee != "me" {
		t.Errorf("the pending code is assigned to %q, want me", assignee)
	}

	// The end user: a browser context of their own, without cookies.
	uctx := endUserTab(t, ctx, run)
	userRun := stepper(t, uctx, chromeOut)
	downloads := t.TempDir()
	userRun("allow downloads",
		browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).
			WithBrowserContextID(chromedp.FromContext(uctx).BrowserContextID).WithDownloadPath(downloads))

	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	var errText string
	userRun("type a wrong code",
		chromedp.Navigate(base+"/support"),
		chromedp.WaitVisible(`input[name="code"]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name="code"]`, wrong, chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Continue"]`, chromedp.BySearch),
		chromedp.Text(`p.error`, &errText, chromedp.ByQuery),
	)
	if !strings.Contains(errText, "No such support code") {
		t.Errorf("error after a wrong code = %q", errText)
	}
	dl := `a[href="/support/download/` + code + `/linux-amd64"]`
	var label string
	userRun("type the code and download the one-time agent",
		chromedp.Clear(`input[name="code"]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name="code"]`, code, chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Continue"]`, chromedp.BySearch),
		chromedp.WaitVisible(dl, chromedp.ByQuery),
		chromedp.Text(dl, &label, chromedp.ByQuery),
		chromedp.Click(dl, chromedp.ByQuery),
	)
	if label != "Download for Linux (x86-64)" {
		t.Errorf("download link %q", label)
	}
	file := waitForFile(t, filepath.Join(downloads, "peerdesk-support-"+code))
	head := make([]byte, 4)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadFull(f, head)
	f.Close()
	if err != nil || !bytes.Equal(head, []byte("\x7fELF")) {
		t.Errorf("the download starts with %q (%v), not the ELF magic", head, err)
	}
	cfg, err := supportpack.ReadFile(file)
	if err != nil {
		t.Fatalf("the download's support configuration: %v", err)
	}
	if cfg.Code != code || cfg.CoordinatorURL != base || cfg.Pin != c.Pin() {
		t.Errorf("the download carries %+v; want code %s, URL %s, pin %s", cfg, code, base, c.Pin())
	}

	// The technician's tab follows the desk live: a team code made
	// elsewhere appears without a reload, and the first code still waits.
	team, err := c.API().GenerateCode("127.0.0.1", identity.Session{User: "carol", Role: policy.RoleTechnician}, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	run("see the team's new code appear",
		chromedp.WaitVisible(`#pending #code-`+team.Code, chromedp.ByQuery),
		chromedp.WaitVisible(`#pending #code-`+code, chromedp.ByQuery),
	)
}

// endUserTab opens a tab in a new browser context (no cookies, no storage
// shared with the technician's) and returns its chromedp context. The tab
// gets a window of its own: headless Chromium opens no tab in a context
// without one, which is what chromedp.WithNewBrowserContext asks for.
func endUserTab(t *testing.T, ctx context.Context, run func(string, ...chromedp.Action)) context.Context {
	t.Helper()
	var id target.ID
	var bc cdp.BrowserContextID
	run("open a browser context for the end user", chromedp.ActionFunc(func(ctx context.Context) error {
		b := cdp.WithExecutor(ctx, chromedp.FromContext(ctx).Browser)
		var err error
		if bc, err = target.CreateBrowserContext().Do(b); err != nil {
			return err
		}
		id, err = target.CreateTarget("about:blank").WithBrowserContextID(bc).WithNewWindow(true).Do(b)
		return err
	}))
	uctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(id))
	t.Cleanup(cancel)
	if err := chromedp.Run(uctx); err != nil {
		t.Fatalf("attaching to the end user's tab: %v", err)
	}
	if got := chromedp.FromContext(uctx).BrowserContextID; got != "" && got != bc {
		t.Fatalf("the end user's tab is in browser context %s, want %s", got, bc)
	}
	chromedp.FromContext(uctx).BrowserContextID = bc
	return uctx
}

// waitForFile waits for Chromium to finish a download: it writes to a
// temporary name and renames the file when complete.
func waitForFile(t *testing.T, path string) string {
	t.Helper()
	for deadline := time.Now().Add(harness.Timeout); ; {
		_, err := os.Stat(path)
		if err == nil {
			return path
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(filepath.Dir(path)) //nolint:errcheck // only for the message
			t.Fatalf("%s did not arrive; the download directory holds %v", path, entries)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}
