package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/harness/xclient"
	"github.com/peerdesk/peerdesk/viewer/webui"
	"github.com/peerdesk/peerdesk/wire"
)

// collector runs in the technician's page: for every decoded frame it reads
// the time stamp painted at the screen's top-left and records how old it is,
// and it keeps the first frame's wall-clock time.
const collector = `(() => {
  const v = document.getElementById('screen');
  const c = document.createElement('canvas'); c.width = 768; c.height = 16;
  const g = c.getContext('2d', { willReadFrequently: true });
  window.pdLat = []; window.pdFirst = 0; window.pdLatOn = false;
  const luma = (d, i) => (299 * d[i] + 587 * d[i + 1] + 114 * d[i + 2]) / 1000;
  function stamp() {
    g.drawImage(v, 0, 0, 768, 16, 0, 0, 768, 16);
    const d = g.getImageData(0, 0, 768, 16).data;
    let t = 0;
    for (let b = 0; b < 48; b++) {
      let sum = 0;
      for (let y = 5; y < 11; y++) for (let x = b * 16 + 5; x < b * 16 + 11; x++) sum += luma(d, (y * 768 + x) * 4);
      const m = sum / 36;
      if (m > 80 && m < 176) return 0;
      t = t * 2 + (m >= 176 ? 1 : 0);
    }
    return t;
  }
  function onFrame() {
    const now = Date.now();
    if (!window.pdFirst) window.pdFirst = now;
    if (window.pdLatOn) { const t = stamp(); if (t > 0 && now >= t && now - t < 5000) window.pdLat.push(now - t); }
    v.requestVideoFrameCallback(onFrame);
  }
  v.requestVideoFrameCallback(onFrame);
  return true;
})()`

type videoStats struct {
	Frames    float64 `json:"frames"`
	Keyframes float64 `json:"keyframes"`
	PLIs      float64 `json:"plis"`
	Bytes     float64 `json:"bytes"`
	Received  float64 `json:"received"` // frames received, decoded or not
	T         float64 `json:"t"`        // the page's clock (ms) when read
}

// readStats reads the decoder's counters now.
const readStats = `(async () => {
  const r = { t: Math.round(performance.now()), frames: 0, received: 0, keyframes: 0, plis: 0, bytes: 0 };
  (await window.peerdeskPC.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      r.frames = s.framesDecoded; r.received = s.framesReceived; r.keyframes = s.keyFramesDecoded; r.plis = s.pliCount; r.bytes = s.bytesReceived;
    }
  });
  return r;
})()`

// stats reads the technician's page's video counters.
func stats(t testing.TB, tab context.Context) videoStats {
	t.Helper()
	var s videoStats
	harness.Do(t, tab, "stats", chromedp.Evaluate(readStats, &s, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	return s
}

func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100 // USER_HZ
}

func percentileMS(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// BenchmarkScreenSession measures a live support session at 1920x1080 on
// Xvfb with the real one-time agent binary, the technician's page in
// headless Chromium, and the whole path (TURN relay, overlay) between them:
// code → first frame, frames per second while the whole screen scrolls,
// screen → browser latency from a painted time stamp, the agent's CPU per
// frame and while the screen is still, and the bitrate of both.
// Run: go test -run '^$' -bench BenchmarkScreenSession -benchtime 1x ./e2e
func BenchmarkScreenSession(b *testing.B) {
	harness.Begin(b)
	netns.NowhereLink(b)
	const W, H = 1920, 1080
	display := xclient.StartXvfb(b, W, H)
	win := xclient.OpenWindow(b, display, 0, 0, W, H)
	if err := win.DrawPattern(); err != nil {
		b.Fatal(err)
	}
	c := harness.StartCoordinator(b)
	v := c.LoginViewer(b, c.AddTechnician(b, "bench"))
	ui, err := webui.Start(ctx(b), webui.Config{Viewer: v, Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ui.Close() })
	br := harness.StartBrowser(b)
	user, tech := br.Ctx, br.NewTab(b)
	harness.Do(b, tech, "log the page in", chromedp.Navigate(ui.URL()))

	code, err := v.Coordinator().CreateCode(ctx(b), wire.CodeRequest{})
	if err != nil {
		b.Fatal(err)
	}
	bin := c.SupportBinary(b, code.Code)
	opener := harness.NewOpener(b)
	env := append([]string{"DISPLAY=" + display, "TMPDIR=" + b.TempDir(), "PEERDESK_LOG_LEVEL=" + os.Getenv("PEERDESK_LOG_LEVEL"), "PEERDESK_SCREEN_CODING=" + os.Getenv("PEERDESK_SCREEN_CODING")}, opener.Env()...)
	b.ResetTimer()
	start := time.Now()
	agent := harness.StartPath(b, env, bin)
	userPage := opener.Next(b) // opened once the agent has joined the help desk (before its node is up)
	b.Logf("%v: the agent joined the help desk and opened the user's page", time.Since(start))
	harness.Do(b, user, "open the user's page", chromedp.Navigate(userPage))
	session := waitSession(b, v, code.Code)
	b.Logf("%v: the session is on the board", time.Since(start))
	var ok bool
	harness.Do(b, tech, "connect", chromedp.Navigate(ui.Base()+"/session/"+session), chromedp.WaitVisible(`#screen`, chromedp.ByQuery), chromedp.Evaluate(collector, &ok))
	harness.Do(b, user, "see the question", chromedp.WaitVisible(`#allow`, chromedp.ByQuery))
	b.Logf("%v: the user is asked", time.Since(start))
	harness.Do(b, user, "allow", chromedp.Click(`#allow`, chromedp.ByQuery))
	b.Logf("%v: allowed", time.Since(start))
	// A background tab gets no frame callbacks: the technician looks at
	// the session, as they would.
	harness.Do(b, tech, "bring the session to the front", page.BringToFront())
	var first float64
	wait.For(b, "a frame presented in the technician's page", func() bool {
		harness.Do(b, tech, "first frame", chromedp.Evaluate(`window.pdFirst`, &first))
		return first != 0
	})
	codeToFrame := time.UnixMilli(int64(first)).Sub(start)
	b.Logf("%v: first frame", codeToFrame)
	b.StopTimer()

	measure := func(d time.Duration) (fps, kbps, cpuPct, cpuPerFrameMS float64) {
		s0, c0, t0 := stats(b, tech), cpuSeconds(agent.Cmd.Process.Pid), time.Now()
		time.Sleep(d) // the measurement's span of real time: rates are counted over it
		s1, c1, t1 := stats(b, tech), cpuSeconds(agent.Cmd.Process.Pid), time.Now()
		secs := t1.Sub(t0).Seconds()
		frames := s1.Frames - s0.Frames
		fps, kbps, cpuPct = frames/secs, (s1.Bytes-s0.Bytes)*8/1000/secs, (c1-c0)/secs*100
		if frames > 0 {
			cpuPerFrameMS = (c1 - c0) * 1000 / frames
		}
		return
	}

	// Still screen: nothing changes; the session idles.
	waitStill(b, tech)
	stopSampler(b, tech) // the measurement reads the counters itself
	_, staticKbps, staticCPU, _ := measure(10 * time.Second)

	// The whole screen scrolls (8 px per step, as fast as X takes it) with
	// a time stamp painted over it after every step.
	var stop sync.WaitGroup
	done := make(chan struct{})
	var latOn bool
	harness.Do(b, tech, "start latency", chromedp.Evaluate(`window.pdLat = []; window.pdLatOn = true`, &latOn))
	stop.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			win.Scroll(8)                    //nolint:errcheck // load only
			win.PaintStamp(time.Now())       //nolint:errcheck // load only
			time.Sleep(8 * time.Millisecond) // the load's pace: a step, then 8 ms of real time
		}
	})
	time.Sleep(2 * time.Second) // warm-up in real time: the encoder and the bandwidth estimate settle on the scrolling load before it is measured
	fps, scrollKbps, scrollCPU, cpuPerFrame := measure(10 * time.Second)
	close(done)
	stop.Wait()
	var lat []float64
	harness.Do(b, tech, "latencies", chromedp.Evaluate(`window.pdLatOn = false; window.pdLat`, &lat))

	// Static latency: only the stamp changes, ten times a second.
	harness.Do(b, tech, "restart latency", chromedp.Evaluate(`window.pdLat = []; window.pdLatOn = true`, &latOn))
	for range 100 {
		win.PaintStamp(time.Now())         //nolint:errcheck // load only
		time.Sleep(100 * time.Millisecond) // the load's pace: ten stamps a second of real time
	}
	var latStatic []float64
	harness.Do(b, tech, "latencies", chromedp.Evaluate(`window.pdLatOn = false; window.pdLat`, &latStatic))

	b.ReportMetric(codeToFrame.Seconds()*1000, "code→frame-ms")
	b.ReportMetric(fps, "scroll-fps")
	b.ReportMetric(percentileMS(lat, .5), "scroll-lat-p50-ms")
	b.ReportMetric(percentileMS(lat, .95), "scroll-lat-p95-ms")
	b.ReportMetric(percentileMS(latStatic, .5), "static-lat-p50-ms")
	b.ReportMetric(percentileMS(latStatic, .95), "static-lat-p95-ms")
	b.ReportMetric(scrollCPU, "scroll-agent-cpu-%")
	b.ReportMetric(cpuPerFrame, "agent-cpu-ms/frame")
	b.ReportMetric(scrollKbps, "scroll-kbit/s")
	b.ReportMetric(staticCPU, "static-agent-cpu-%")
	b.ReportMetric(staticKbps, "static-kbit/s")
	b.Logf("latency samples: scrolling %d, static %d", len(lat), len(latStatic))
}
