package capture

// Windows capture with GDI: BitBlt from the screen DC into a DIB section.
//
// Windows has no damage notification for GDI, so Next grabs at a bounded
// rate while it waits (pollInterval) and compares each grab with the
// previous frame row by row (changedRows), returning only when something
// changed. Two DIB sections alternate so the comparison needs no copy.
//
// DXGI Desktop Duplication (IDXGIOutputDuplication) is the better path and
// the planned successor: AcquireNextFrame blocks until the desktop changes
// (true damage, no polling while idle), reports dirty and move rectangles,
// and hands over a GPU texture without the GDI copy (≈1 ms less per 1080p
// frame and no CPU compare). It is not used yet because it needs a D3D11
// device and COM vtable calls written by hand (no Go binding in the module
// graph), one duplication per output with DXGI_ERROR_ACCESS_LOST handling on
// every mode change, desktop switch (UAC prompt, lock screen) and full-screen
// app, and a fallback anyway for sessions without a usable adapter (some VMs,
// RDP sessions before Windows 10 1803). GDI works everywhere the session has
// a desktop, which makes it the solid first implementation behind the same
// Source interface.
//
// The capture must run in the interactive user's session (a service in
// session 0 sees no desktop): the agent's service runs it in its screen
// helper in the console session (agent/sessionhelper). Each grab runs on
// the desktop that has the input (agent/internal/inputdesk): the helper,
// as SYSTEM, follows it to the logon screen and UAC's secure desktop; a
// process that may not open those (the one-time agent, run by the user)
// stays on its own, where BitBlt fails and Next and Grab return the error.

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sync"
	"time"
)

// pollInterval bounds how often Next grabs while it waits for a change:
// at most 30 grabs per second, the session's frame rate.
const pollInterval = time.Second / 30

// Open returns a Source capturing the whole virtual screen (all monitors)
// with GDI. display must be "" (it names an X11 display elsewhere).
func Open(display string) (Source, error) {
	if display != "" {
		return nil, fmt.Errorf("capture.Open: display %q: Windows has no named displays: %w", display, ErrUnsupported)
	}
	s := &gdiSource{closed: make(chan struct{}), index: -1, now: time.Now}
	if err := s.Select(-1); err != nil {
		return nil, errors.Join(fmt.Errorf("capture.Open: %w", err), s.Close())
	}
	return s, nil
}

// gdiSource is the Windows Source.
type gdiSource struct {
	closed chan struct{}
	now    func() time.Time

	mu    sync.Mutex // guards what follows
	index int
	area  image.Rectangle // in virtual-screen coordinates
	bufs  [2]dib          // bufs[cur] holds the last frame
	cur   int
	full  bool // no last frame for this area yet
	seq   uint64
	once  sync.Once
	cErr  error
}

func (s *gdiSource) usable() error {
	select {
	case <-s.closed:
		return ErrClosed
	default:
		return nil
	}
}

func (s *gdiSource) Monitors() ([]Monitor, error) {
	if err := s.usable(); err != nil {
		return nil, fmt.Errorf("capture.Monitors: %w", err)
	}
	var ms []Monitor
	err := physicalPixels(func() (err error) {
		ms, err = listMonitors()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("capture.Monitors: %w", err)
	}
	return ms, nil
}

func (s *gdiSource) Select(index int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return fmt.Errorf("capture.Select: %w", err)
	}
	old := s.index
	s.index = index
	if err := physicalPixels(s.layoutLocked); err != nil {
		s.index = old
		return fmt.Errorf("capture.Select: %w", err)
	}
	s.full = true
	return nil
}

// layoutLocked recomputes the area for the selected index from the current
// monitors and re-creates the bitmaps when its size changed (a resolution
// or layout change). Call it inside physicalPixels.
func (s *gdiSource) layoutLocked() error {
	ms, err := listMonitors()
	if err != nil {
		return err
	}
	area, err := areaOf(ms, virtualScreen(ms), s.index)
	if err != nil {
		return err
	}
	if area.Size() != s.area.Size() || s.bufs[0].bmp == 0 {
		if err := errors.Join(s.bufs[0].free(), s.bufs[1].free()); err != nil {
			return err
		}
		for i := range s.bufs {
			if s.bufs[i], err = newDIB(area.Dx(), area.Dy()); err != nil {
				return err
			}
		}
		s.full = true
	}
	if area != s.area {
		s.full = true
	}
	s.area = area
	return nil
}

func (s *gdiSource) Next(ctx context.Context) (Frame, error) {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if err := ctx.Err(); err != nil {
			return Frame{}, fmt.Errorf("capture.Next: %w", err)
		}
		f, ok, err := s.grab(false)
		if err != nil {
			return Frame{}, fmt.Errorf("capture.Next: %w", err)
		}
		if ok {
			return f, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return Frame{}, fmt.Errorf("capture.Next: %w", ctx.Err())
		case <-s.closed:
			return Frame{}, fmt.Errorf("capture.Next: %w", ErrClosed)
		}
	}
}

func (s *gdiSource) Grab() (Frame, error) {
	f, _, err := s.grab(true)
	if err != nil {
		return Frame{}, fmt.Errorf("capture.Grab: %w", err)
	}
	return f, nil
}

// grab reads the area into the spare bitmap. Unless always is set or there
// is no last frame, it returns false when nothing changed, leaving the last
// frame where it was.
func (s *gdiSource) grab(always bool) (Frame, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return Frame{}, false, err
	}
	spare := 1 - s.cur
	err := physicalPixels(func() error {
		// Re-reading the layout each time catches resolution and monitor
		// changes (EnumDisplayMonitors costs microseconds).
		if err := s.layoutLocked(); err != nil {
			return err
		}
		return blit(s.bufs[spare], s.area)
	})
	if err != nil {
		return Frame{}, false, err
	}
	t := s.now()
	stride := s.area.Dx() * 4
	if !always && !s.full {
		if _, _, changed := changedRows(s.bufs[s.cur].pix, s.bufs[spare].pix, stride, stride, s.area.Dy()); !changed {
			return Frame{}, false, nil
		}
	}
	s.cur, s.full = spare, false
	s.seq++
	return Frame{
		Width:  s.area.Dx(),
		Height: s.area.Dy(),
		Stride: stride,
		Pix:    s.bufs[spare].pix,
		Time:   t,
		Seq:    s.seq,
	}, true, nil
}

func (s *gdiSource) Close() error {
	s.once.Do(func() {
		close(s.closed)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.cErr = errors.Join(s.bufs[0].free(), s.bufs[1].free())
	})
	if s.cErr != nil {
		return fmt.Errorf("capture.Close: %w", s.cErr)
	}
	return nil
}
