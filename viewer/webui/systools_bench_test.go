package webui

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/templates/viewerui"
	"github.com/peerdesk/peerdesk/wire"
)

// renderScript times the page's own renderProcesses on a synthetic list
// of n processes, runs times: each sample is from the call to the end of
// the layout it forces (DOM built, styles and layout done), and to the
// next animation frame after it (painted). It returns both lists, in
// milliseconds.
const renderScript = `(async (n, runs, cold) => {
  const list = [];
  for (let i = 0; i < n; i++) list.push({pid: 1000 + i, ppid: 1 + (i % 50), name: 'proc-' + (i % 97), user: i % 3 ? 'root' : 'tina',
    cpu: (i * 7 % 1000) / 10, rss: (i * 104729) % (512 << 20), started: 1767225600000 + i * 1000,
    command: '/usr/bin/proc-' + (i % 97) + ' --option ' + 'x'.repeat(i % 120)});
  const layout = [], frame = [];
  for (let r = 0; r < runs; r++) {
    // cold: every process new (every row built); live: the same
    // processes with new CPU and memory figures (a refresh).
    if (cold) list.forEach((p) => { p.pid += n; });
    list.forEach((p) => { p.cpu = ((p.cpu * 13 + r) % 1000) / 10; p.rss += 4096; });
    const t0 = performance.now();
    const shown = window.peerdeskRenderProcesses(list);
    void document.getElementById('proc-rows').offsetHeight;
    const t1 = performance.now();
    await new Promise((res) => requestAnimationFrame(() => setTimeout(res, 0)));
    const t2 = performance.now();
    if (shown !== n) throw new Error('rendered ' + shown);
    layout.push(t1 - t0);
    frame.push(t2 - t0);
  }
  return {layout, frame};
})(__N__, __RUNS__, __COLD__)`

// BenchmarkProcessListRender1000: the issue's figure, "a process list of
// 1,000 processes rendered: p95 ≤ 100 ms", measured in headless Chromium
// on the real page, stylesheet and script (the page's live refresh is
// answered "not offered" so only the timed renders run). cold: 1,000 new
// processes each time (every row built); live: the same 1,000 with new
// CPU and memory figures, as the page's two-second refresh. Reported: p50
// and p95 over 20 renders per benchmark iteration, to the forced layout
// and to the next frame.
func BenchmarkProcessListRender1000(b *testing.B) {
	leak.Check(b)
	mux := http.NewServeMux()
	serveStatic(mux)
	mux.HandleFunc("GET /system", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		viewerui.SystemPage(viewerui.System{Device: "bench", Config: `{"device":"bench","csrf":"x"}`}).Render(r.Context(), w) //nolint:errcheck // a test server
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, wire.Error{Code: wire.CodeNotFound, Message: "not offered"})
	})
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	tab := harness.StartBrowser(b).Ctx
	harness.Do(b, tab, "open the page",
		chromedp.Navigate(srv.URL+"/system"),
		chromedp.WaitVisible(`#proc-error`, chromedp.ByQuery),
	)
	const n, runs = 1000, 20
	for _, mode := range []string{"cold", "live"} {
		b.Run(mode, func(b *testing.B) {
			var layout, frame []float64
			script := strings.NewReplacer("__N__", strconv.Itoa(n), "__RUNS__", strconv.Itoa(runs),
				"__COLD__", strconv.FormatBool(mode == "cold")).Replace(renderScript)
			for b.Loop() {
				var res struct{ Layout, Frame []float64 }
				harness.Do(b, tab, "render 1,000 processes", chromedp.Evaluate(script, &res, awaitPromise))
				layout = append(layout, res.Layout...)
				frame = append(frame, res.Frame...)
			}
			b.ReportMetric(pct(layout, 50), "p50-layout-ms")
			b.ReportMetric(pct(layout, 95), "p95-layout-ms")
			b.ReportMetric(pct(frame, 50), "p50-frame-ms")
			b.ReportMetric(pct(frame, 95), "p95-frame-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func pct(xs []float64, p int) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }
