package capture

import (
	"errors"
	"image"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSortMonitors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in, out []Monitor
	}{
		{
			name: "left to right, primary kept",
			in: []Monitor{
				{Name: "DP-2", X: 1920, Width: 1280, Height: 1024, Primary: true},
				{Name: "DP-1", X: 0, Width: 1920, Height: 1080},
			},
			out: []Monitor{
				{Index: 0, Name: "DP-1", X: 0, Width: 1920, Height: 1080},
				{Index: 1, Name: "DP-2", X: 1920, Width: 1280, Height: 1024, Primary: true},
			},
		},
		{
			name: "no primary: the one at the origin; Windows-style negative origin sorts first",
			in: []Monitor{
				{Name: `\\.\DISPLAY1`, Width: 1920, Height: 1080},
				{Name: `\\.\DISPLAY2`, X: -1280, Y: 100, Width: 1280, Height: 720},
			},
			out: []Monitor{
				{Index: 0, Name: `\\.\DISPLAY2`, X: -1280, Y: 100, Width: 1280, Height: 720},
				{Index: 1, Name: `\\.\DISPLAY1`, Width: 1920, Height: 1080, Primary: true},
			},
		},
		{
			name: "same origin: larger first; only one primary",
			in: []Monitor{
				{Name: "left", Width: 960, Height: 1080, Primary: true},
				{Name: "screen", Width: 1920, Height: 1080, Primary: true},
			},
			out: []Monitor{
				{Index: 0, Name: "screen", Width: 1920, Height: 1080, Primary: true},
				{Index: 1, Name: "left", Width: 960, Height: 1080},
			},
		},
		{name: "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sortMonitors(tc.in)
			if diff := cmp.Diff(tc.out, tc.in); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestAreaOf(t *testing.T) {
	ms := []Monitor{
		{Index: 0, X: -1280, Y: 100, Width: 1280, Height: 720},
		{Index: 1, Width: 1920, Height: 1080},
		{Index: 2, X: 5000, Width: 100, Height: 100},
	}
	screen := virtualScreen(ms)
	if want := image.Rect(-1280, 0, 5100, 1080); screen != want {
		t.Fatalf("virtualScreen = %v, want %v", screen, want)
	}
	for _, tc := range []struct {
		index   int
		screen  image.Rectangle
		want    image.Rectangle
		wantErr error
	}{
		{index: -1, screen: screen, want: screen},
		{index: 0, screen: screen, want: image.Rect(-1280, 100, 0, 820)},
		{index: 1, screen: image.Rect(0, 0, 1600, 900), want: image.Rect(0, 0, 1600, 900)}, // clipped
		{index: 2, screen: image.Rect(0, 0, 1920, 1080), wantErr: ErrNoMonitor},            // outside
		{index: 3, screen: screen, wantErr: ErrNoMonitor},
		{index: -2, screen: screen, wantErr: ErrNoMonitor},
	} {
		got, err := areaOf(ms, tc.screen, tc.index)
		if !errors.Is(err, tc.wantErr) || got != tc.want {
			t.Errorf("areaOf(%d, %v) = %v, %v; want %v, %v", tc.index, tc.screen, got, err, tc.want, tc.wantErr)
		}
	}
	if _, err := areaOf(nil, image.Rectangle{}, -1); err == nil {
		t.Error("areaOf of an empty screen succeeded")
	}
}
