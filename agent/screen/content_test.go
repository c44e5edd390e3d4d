package screen

import (
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent/screen/h264"
)

func TestContentPolicy(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	steps := []struct {
		at   time.Duration
		bps  int
		want h264.Content
	}{
		{0, 8_000_000, h264.Screen},                 // the start: the path is unknown
		{4 * time.Second, 8_000_000, h264.Screen},   // not yet held for 5 s
		{5 * time.Second, 8_000_000, h264.Camera},   // held: room to spare
		{6 * time.Second, 4_000_000, h264.Camera},   // between the thresholds: stay
		{7 * time.Second, 3_000_000, h264.Camera},   // not below screenBelow
		{8 * time.Second, 2_999_999, h264.Screen},   // the path is slow: at once
		{9 * time.Second, 7_000_000, h264.Screen},   // high again, from 9 s
		{12 * time.Second, 5_999_999, h264.Screen},  // dipped below cameraFrom: starts over
		{13 * time.Second, 6_000_000, h264.Screen},  // high from 13 s; now 10 s are needed
		{22 * time.Second, 6_000_000, h264.Screen},  // 9 s
		{23 * time.Second, 6_000_000, h264.Camera},  // 10 s
		{24 * time.Second, 1_000_000, h264.Screen},  // second fall: 20 s next time
		{25 * time.Second, 16_000_000, h264.Screen}, // high from 25 s
		{44 * time.Second, 16_000_000, h264.Screen}, // 19 s
		{45 * time.Second, 16_000_000, h264.Camera}, // 20 s
		{46 * time.Second, 16_000_000, h264.Camera}, // and it stays
	}
	var p contentPolicy
	for _, s := range steps {
		if got := p.pick(t0.Add(s.at), s.bps); got != s.want {
			t.Fatalf("at %v with %d bit/s: %v, want %v", s.at, s.bps, got, s.want)
		}
	}
	// Falls never push the wait past cameraAtMost.
	var q contentPolicy
	now := t0
	for range 20 {
		q.pick(now, 8_000_000)
		now = now.Add(q.after)
		if q.pick(now, 8_000_000) != h264.Camera {
			t.Fatalf("not camera after holding the target for %v", q.after)
		}
		q.pick(now, 1_000_000)
	}
	if q.after != cameraAtMost {
		t.Fatalf("after 20 falls the wait is %v, want %v", q.after, cameraAtMost)
	}
}

func TestCoding(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	for in, want := range map[string]Coding{"": CodingAuto, "auto": CodingAuto, "screen": CodingScreen, "camera": CodingCamera} {
		if got, err := ParseCoding(in); err != nil || got != want {
			t.Errorf("ParseCoding(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"Camera", "vp8", " screen"} {
		if _, err := ParseCoding(bad); err == nil {
			t.Errorf("ParseCoding(%q) accepted", bad)
		}
	}
	var p contentPolicy
	if CodingScreen.pick(&p, t0, 16_000_000) != h264.Screen || CodingCamera.pick(&p, t0, 100_000) != h264.Camera {
		t.Error("a fixed coding does not hold")
	}
	CodingAuto.pick(&p, t0, 16_000_000)
	if CodingAuto.pick(&p, t0.Add(cameraAfter), 16_000_000) != h264.Camera {
		t.Error("auto does not follow the path")
	}
}
