package capture

import (
	"context"
	"errors"
	"fmt"
	"image"

	"github.com/jezek/xgb/damage"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xproto"
)

func (s *x11Source) Next(ctx context.Context) (Frame, error) {
	woken := false
	for {
		if err := ctx.Err(); err != nil {
			return Frame{}, fmt.Errorf("capture.Next: %w", err)
		}
		s.mu.Lock()
		f, ok, err := s.tryNextLocked(woken)
		s.mu.Unlock()
		if err != nil {
			return Frame{}, fmt.Errorf("capture.Next: %w", err)
		}
		if ok {
			return f, nil
		}
		select {
		case <-s.wake:
			woken = true
		case <-ctx.Done():
			return Frame{}, fmt.Errorf("capture.Next: %w", ctx.Err())
		case <-s.closed:
			return Frame{}, fmt.Errorf("capture.Next: %w", ErrClosed)
		case <-s.done:
			return Frame{}, fmt.Errorf("capture.Next: %w", s.usable())
		}
	}
}

// tryNextLocked returns a frame when one is due: a full one after a
// selection or layout change, else, if woken, the rows the damage since
// the last reset touched within the area. It returns false when there is
// nothing to read yet.
func (s *x11Source) tryNextLocked(woken bool) (Frame, bool, error) {
	if err := s.prepareLocked(); err != nil {
		return Frame{}, false, err
	}
	if s.full {
		f, err := s.grabLocked()
		return f, err == nil, err
	}
	if !woken {
		return Frame{}, false, nil
	}
	// Move the damage into s.parts (resetting it, so the next change sends
	// a new event) and fetch it, in one round trip.
	sub := damage.SubtractChecked(s.conn, s.damage, xfixes.RegionNone, s.parts)
	reg, err := xfixes.FetchRegion(s.conn, s.parts).Reply()
	if err := errors.Join(err, sub.Check()); err != nil {
		return Frame{}, false, fmt.Errorf("fetching damage: %w", err)
	}
	rects := make([]image.Rectangle, len(reg.Rectangles))
	for i, r := range reg.Rectangles {
		rects[i] = image.Rect(int(r.X), int(r.Y), int(r.X)+int(r.Width), int(r.Y)+int(r.Height))
	}
	y0, y1, ok := damageBand(rects, s.area)
	if !ok {
		return Frame{}, false, nil
	}
	f, err := s.readLocked(y0, y1)
	return f, err == nil, err
}

func (s *x11Source) Grab() (Frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.prepareLocked(); err != nil {
		return Frame{}, fmt.Errorf("capture.Grab: %w", err)
	}
	f, err := s.grabLocked()
	if err != nil {
		return Frame{}, fmt.Errorf("capture.Grab: %w", err)
	}
	return f, nil
}

// prepareLocked checks the source is usable and applies a pending layout
// change (a resolution change re-creates the buffer).
func (s *x11Source) prepareLocked() error {
	if err := s.usable(); err != nil {
		return err
	}
	if err := s.takeAsyncErr(); err != nil {
		return fmt.Errorf("X error: %w", err)
	}
	if s.layout.Swap(false) {
		if err := s.selectLocked(s.index); err != nil {
			s.layout.Store(true) // try again on the next call
			return err
		}
	}
	return nil
}

// grabLocked resets the damage and reads the whole area. Damage that
// arrives after the reset is newer than the pixels read, or covered by
// them, so nothing is lost. If the read fails because the screen shrank
// before RandR told us, the layout is re-read and the read retried once.
func (s *x11Source) grabLocked() (Frame, error) {
	for attempt := 0; ; attempt++ {
		reset := damage.SubtractChecked(s.conn, s.damage, xfixes.RegionNone, xfixes.RegionNone)
		f, err := s.readLocked(0, s.area.Dy())
		if err := errors.Join(err, reset.Check()); err == nil {
			s.full = false
			return f, nil
		} else if attempt > 0 || !errors.As(err, new(xproto.MatchError)) {
			return Frame{}, err
		}
		if err := s.selectLocked(s.index); err != nil {
			return Frame{}, err
		}
	}
}

// readLocked reads rows [y0, y1) of the area into the buffer, whose other
// rows still hold the previous frame, and returns the frame.
func (s *x11Source) readLocked(y0, y1 int) (Frame, error) {
	w, stride := s.area.Dx(), s.area.Dx()*4
	if err := s.buf.read(s.area.Min.X, s.area.Min.Y+y0, w, y1-y0, y0*stride); err != nil {
		return Frame{}, fmt.Errorf("reading %dx%d at (%d,%d): %w", w, y1-y0, s.area.Min.X, s.area.Min.Y+y0, err)
	}
	s.seq++
	return Frame{
		Width:  w,
		Height: s.area.Dy(),
		Stride: stride,
		Pix:    s.buf.pix()[:stride*s.area.Dy()],
		Time:   s.now(),
		Seq:    s.seq,
	}, nil
}

// ensureBufLocked makes the buffer exactly size bytes, re-creating it when
// the size changed. A new buffer holds no frame yet.
func (s *x11Source) ensureBufLocked(size int) error {
	if s.buf != nil && len(s.buf.pix()) == size {
		return nil
	}
	if s.buf != nil {
		err := s.buf.close(true)
		s.buf = nil
		if err != nil {
			return fmt.Errorf("releasing the old buffer: %w", err)
		}
	}
	if !s.noShm {
		b, err := newShmBuf(s.conn, s.root, size)
		if err == nil {
			s.buf = b
			return nil
		}
		// The server cannot attach our segment (another host or IPC
		// namespace): read through the socket from now on.
		s.noShm = true
	}
	s.buf = &sockBuf{conn: s.conn, root: s.root, data: make([]byte, size)}
	return nil
}
