//go:build linux

package harness

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/peerdesk/peerdesk/harness/wait"
)

// Chromium is Debian's Chromium, which browser tests drive.
const Chromium = "/usr/bin/chromium"

// Browser is a headless Chromium for one test.
type Browser struct {
	Ctx context.Context // the first tab; NewTab opens more
	out *lockedBuffer
}

// BrowserOption adjusts the browser's command line.
type BrowserOption = chromedp.ExecAllocatorOption

// TrustSPKI makes Chromium accept exactly the TLS key whose SHA-256 SPKI
// pin (base64) is given — and nothing else it would otherwise refuse.
func TrustSPKI(pin string) BrowserOption {
	return chromedp.Flag("ignore-certificate-errors-spki-list", pin)
}

// StartBrowser launches headless Chromium with the flags that keep it off
// the network (no background networking, component updates, sync or QUIC)
// and a fresh profile. It skips the test if Chromium is not installed.
// When the test ends the browser and every helper process of its group are
// gone and the profile is removed. It skips the test in -short mode.
func StartBrowser(t testing.TB, opts ...BrowserOption) *Browser {
	t.Helper()
	SkipShort(t)
	if _, err := os.Stat(Chromium); err != nil {
		t.Skipf("SKIP: %s is absent (%v); install Debian's chromium (just deps does)", Chromium, err)
	}
	out := &lockedBuffer{}
	profile, err := os.MkdirTemp("", "peerdesk-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	flags := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(out),
		chromedp.ModifyCmdFunc(func(c *exec.Cmd) {
			c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			cmd = c
		}),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(flags, opts...)...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelCtx() // closes the browser
		// Helpers (renderers, the zygote) share Chromium's stdout, which
		// the allocator copies until every writer is gone: they go first.
		if cmd != nil && cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck // ESRCH: none left
		}
		cancelAlloc() // waits for the browser process and its output
		// A helper still running could write to the profile while it is
		// removed; once none is left the removal cannot race.
		if cmd != nil && cmd.Process != nil {
			if err := wait.Until(Timeout, func() error { return groupGone(cmd.Process.Pid) }); err != nil {
				t.Errorf("harness: Chromium: %v", err)
			}
		}
		if err := os.RemoveAll(profile); err != nil {
			t.Errorf("harness: removing Chromium's profile: %v", err)
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("harness: starting %s: %v\n%s", Chromium, err, out.String())
	}
	return &Browser{Ctx: ctx, out: out}
}

// NewTab opens another tab of the same browser.
func (b *Browser) NewTab(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.Ctx)
	t.Cleanup(cancel)
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("harness: new tab: %v", err)
	}
	return ctx
}

// Output is what Chromium printed.
func (b *Browser) Output() string { return b.out.String() }

// Do runs actions in tab ctx with a generous upper bound, failing the test
// with what for context.
func Do(t testing.TB, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if err := chromedp.Run(rctx, actions...); err != nil {
		t.Fatalf("browser: %s: %v\n%s", what, err, where(ctx))
	}
}

// where describes the page of tab ctx, for failure messages.
func where(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var loc, html string
	if err := chromedp.Run(ctx, chromedp.Location(&loc), chromedp.OuterHTML("body", &html, chromedp.ByQuery)); err != nil {
		return "(the page could not be read: " + err.Error() + ")"
	}
	if len(html) > 4000 {
		html = html[:4000] + "…"
	}
	return "the tab is at " + loc + ":\n" + html
}

// IsolatedTab opens a tab in a browser context of its own: no cookies or
// storage shared with the other tabs, as on another person's computer. Its
// downloads go to downloads when that is not empty. Headless Chromium opens
// no tab in a new context without a window, so the tab gets one.
func (b *Browser) IsolatedTab(t testing.TB, downloads string) context.Context {
	t.Helper()
	var id target.ID
	var bc cdp.BrowserContextID
	Do(t, b.Ctx, "open a browser context", chromedp.ActionFunc(func(ctx context.Context) error {
		exec := cdp.WithExecutor(ctx, chromedp.FromContext(ctx).Browser)
		var err error
		if bc, err = target.CreateBrowserContext().Do(exec); err != nil {
			return err
		}
		id, err = target.CreateTarget("about:blank").WithBrowserContextID(bc).WithNewWindow(true).Do(exec)
		return err
	}))
	ctx, cancel := chromedp.NewContext(b.Ctx, chromedp.WithTargetID(id))
	t.Cleanup(cancel)
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("harness: attaching to the isolated tab: %v", err)
	}
	if got := chromedp.FromContext(ctx).BrowserContextID; got != "" && got != bc {
		t.Fatalf("harness: the isolated tab is in browser context %s, want %s", got, bc)
	}
	chromedp.FromContext(ctx).BrowserContextID = bc
	if downloads != "" {
		// Chromium says when a download is complete (after its rename
		// and its final permissions, which would undo a chmod made
		// earlier): WaitFile waits for that.
		var names sync.Map // GUID → suggested file name
		chromedp.ListenTarget(ctx, func(ev any) {
			switch e := ev.(type) {
			case *browser.EventDownloadWillBegin:
				names.Store(e.GUID, e.SuggestedFilename)
			case *browser.EventDownloadProgress:
				if e.State != browser.DownloadProgressStateCompleted {
					return
				}
				if e.FilePath != "" {
					completed.Store(e.FilePath, true)
				}
				if name, ok := names.Load(e.GUID); ok {
					completed.Store(filepath.Join(downloads, name.(string)), true)
				}
			}
		})
		Do(t, ctx, "allow downloads", browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).
			WithBrowserContextID(bc).WithDownloadPath(downloads).WithEventsEnabled(true))
	}
	return ctx
}

// completed holds the paths of downloads Chromium reported complete.
var completed sync.Map

// WaitFile waits for Chromium to finish a download of a tab made by
// IsolatedTab: the file is there and Chromium reported it complete (it
// writes to a temporary name, renames the file, then sets its mode).
func WaitFile(t testing.TB, path string) {
	t.Helper()
	err := wait.Until(Timeout, func() error {
		if _, err := os.Stat(path); err != nil {
			return err
		}
		if _, ok := completed.Load(path); !ok {
			return errors.New("Chromium has not reported the download complete")
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		entries, _ := os.ReadDir(filepath.Dir(path)) //nolint:errcheck // only for the message
		t.Fatalf("harness: %s did not arrive; the download directory holds %v", path, entries)
	} else if err != nil {
		t.Fatal(err)
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ShotsEnv names the directory Shot writes screenshots to (`just shots`
// sets it to docs/shots); unset, they go to the test's temporary directory,
// still taken and checked.
const ShotsEnv = "PEERDESK_SHOTS"

// Shot saves a PNG of tab's viewport as name.png (in $PEERDESK_SHOTS, or a
// temporary directory) and checks it is a real picture of a page: it
// decodes, and it is not one flat colour.
func Shot(t testing.TB, tab context.Context, name string) string {
	t.Helper()
	dir := os.Getenv(ShotsEnv)
	if dir == "" {
		dir = shotDir(t)
	}
	var buf []byte
	Do(t, tab, "screenshot "+name, chromedp.CaptureScreenshot(&buf))
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("harness: screenshot %s: %v", name, err)
	}
	b := img.Bounds()
	first := img.At(b.Min.X, b.Min.Y)
	flat := true
	for y := b.Min.Y; y < b.Max.Y && flat; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			if img.At(x, y) != first {
				flat = false
				break
			}
		}
	}
	if flat {
		t.Fatalf("harness: screenshot %s is one flat colour: the page did not render", name)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var shotDirs sync.Map // test name → its directory

func shotDir(t testing.TB) string {
	if d, ok := shotDirs.Load(t.Name()); ok {
		return d.(string)
	}
	d := t.TempDir()
	shotDirs.Store(t.Name(), d)
	return d
}
