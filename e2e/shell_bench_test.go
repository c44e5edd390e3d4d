package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/peerdesk/peerdesk/agent"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/viewer/webui"
)

// echoTimer runs in the technician's shell page: it notes when a key's
// text reaches xterm.js's input element, and, when the next output has been
// written into the terminal, waits for the frame that paints it and records
// the time between.
const echoTimer = `(() => {
  const t = window.peerdeskTerm;
  const write = t.write.bind(t);
  window.pdLat = []; window.pdWritten = []; window.pdKey = null;
  document.querySelector('.xterm-helper-textarea').addEventListener('input', () => { window.pdKey = performance.now(); }, true);
  t.write = (data, cb) => write(data, () => {
    const k = window.pdKey;
    if (k !== null) {
      window.pdKey = null;
      window.pdWritten.push(performance.now() - k);
      requestAnimationFrame(() => window.pdLat.push(performance.now() - k));
    }
    if (cb) cb();
  });
  return true;
})()`

// BenchmarkShellEcho: keystroke → echo in the browser, over the overlay.
// A senior technician's shell page (headless Chromium, the viewer's page,
// the in-process viewer and agent on the overlay, loopback) runs cat on the
// machine's PTY, whose line discipline echoes each key; 300 keys are typed
// one at a time, each after the last one's echo was painted. Reported: p50
// and p95 from the key's input event to the frame that shows its echo
// (echo-…), and to the echo's arrival in the terminal's buffer (written-…).
// Run by scripts/bench.sh shell.
func BenchmarkShellEcho(b *testing.B) {
	harness.Begin(b)
	c := harness.StartCoordinator(b)
	a := c.EnrollAgent(b, "bench-pc", func(cfg *agent.Config) { cfg.Unattended = true })
	v := c.LoginViewer(b, c.AddUser(b, "bench", policy.RoleSenior))
	ui, err := webui.Start(ctx(b), webui.Config{Viewer: v, Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ui.Close() })
	tab := harness.StartBrowser(b).Ctx
	var ok bool
	harness.Do(b, tab, "open the shell",
		chromedp.Navigate(ui.URL()),
		chromedp.Navigate(ui.Base()+"/device/"+a.DeviceID()+"/shell"),
		chromedp.ActionFunc(func(ctx context.Context) error { return page.BringToFront().Do(ctx) }),
		chromedp.WaitVisible(`//span[@id="status"][contains(., "Connected")]`, chromedp.BySearch),
	)
	typeLine(b, tab, "exec cat")
	typeLine(b, tab, "ready")
	waitTerm(b, tab, "cat's copy of a line", func(s *termState) bool { return countLines(s.Text, "ready") >= 2 }) // typed, and cat's copy
	harness.Do(b, tab, "install the timer", chromedp.Evaluate(echoTimer, &ok))

	const keys = 300
	b.ResetTimer()
	for i := range keys {
		harness.Do(b, tab, "type a key", chromedp.ActionFunc(func(ctx context.Context) error {
			return input.InsertText(string(rune('a' + i%26))).Do(ctx)
		}))
		wait.ForErr(b, "the key's echo", func() error {
			var n int
			if err := chromedp.Run(tab, chromedp.Evaluate(`window.pdLat.length`, &n)); err != nil {
				return err
			}
			if n <= i {
				return fmt.Errorf("%d echoes painted", n)
			}
			return nil
		})
	}
	b.StopTimer()
	var lat, written []float64
	harness.Do(b, tab, "read the latencies", chromedp.Evaluate(`window.pdLat`, &lat), chromedp.Evaluate(`window.pdWritten`, &written))
	b.ReportMetric(percentileMS(lat, .5), "echo-p50-ms")
	b.ReportMetric(percentileMS(lat, .95), "echo-p95-ms")
	// The same, to the echo's arrival in xterm.js's buffer (before the
	// paint, which waits for the browser's next frame).
	b.ReportMetric(percentileMS(written, .5), "written-p50-ms")
	b.ReportMetric(percentileMS(written, .95), "written-p95-ms")
	b.ReportMetric(float64(len(lat)), "keys")
}

func countLines(text, line string) int {
	n := 0
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			n++
		}
	}
	return n
}
