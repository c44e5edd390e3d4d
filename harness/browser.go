package harness

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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
// gone and the profile is removed.
func StartBrowser(t testing.TB, opts ...BrowserOption) *Browser {
	t.Helper()
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
		cancelCtx()
		cancelAlloc()
		if cmd != nil && cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck // ESRCH: none left
		}
		for range 50 {
			if os.RemoveAll(profile) == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
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
		t.Fatalf("browser: %s: %v", what, err)
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
