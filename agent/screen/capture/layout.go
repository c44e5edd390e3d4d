package capture

import (
	"cmp"
	"fmt"
	"image"
	"slices"
)

// sortMonitors orders ms left to right, then top to bottom (then larger
// first, then by name, so the order is stable across calls), renumbers
// Index in that order, and makes sure exactly one is primary: the first
// one that says so, else the one at the origin, else the first.
func sortMonitors(ms []Monitor) {
	slices.SortFunc(ms, func(a, b Monitor) int {
		return cmp.Or(cmp.Compare(a.X, b.X), cmp.Compare(a.Y, b.Y),
			cmp.Compare(b.Width*b.Height, a.Width*a.Height), cmp.Compare(a.Name, b.Name))
	})
	primary := slices.IndexFunc(ms, func(m Monitor) bool { return m.Primary })
	if primary < 0 {
		primary = max(0, slices.IndexFunc(ms, func(m Monitor) bool { return m.X == 0 && m.Y == 0 }))
	}
	for i := range ms {
		ms[i].Index = i
		ms[i].Primary = i == primary
	}
}

// rectOf returns m's rectangle in virtual-screen coordinates.
func rectOf(m Monitor) image.Rectangle {
	return image.Rect(m.X, m.Y, m.X+m.Width, m.Y+m.Height)
}

// virtualScreen returns the smallest rectangle holding every monitor.
func virtualScreen(ms []Monitor) image.Rectangle {
	var r image.Rectangle
	for _, m := range ms {
		r = r.Union(rectOf(m))
	}
	return r
}

// areaOf returns the rectangle of the virtual screen to capture for index:
// the whole screen for -1, else monitor index clipped to the screen.
func areaOf(ms []Monitor, screen image.Rectangle, index int) (image.Rectangle, error) {
	if index == -1 {
		if screen.Empty() {
			return image.Rectangle{}, fmt.Errorf("the screen is empty (%v)", screen)
		}
		return screen, nil
	}
	if index < 0 || index >= len(ms) {
		return image.Rectangle{}, fmt.Errorf("monitor %d of %d: %w", index, len(ms), ErrNoMonitor)
	}
	r := rectOf(ms[index]).Intersect(screen)
	if r.Empty() {
		return image.Rectangle{}, fmt.Errorf("monitor %d (%v) lies outside the screen %v: %w", index, rectOf(ms[index]), screen, ErrNoMonitor)
	}
	return r, nil
}
