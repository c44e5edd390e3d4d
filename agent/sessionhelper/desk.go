package sessionhelper

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net/rpc"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/agent/screen"
	"github.com/peerdesk/peerdesk/wire"
)

// The desk protocol: what the service asks of the screen helper over the
// pipe. It is net/rpc (gob-encoded calls, any number in flight; frames'
// pixels raw after their reply, codec.go) rather than a format of our
// own: both ends are this binary, the pipe admits
// only SYSTEM, and net/rpc already multiplexes calls and fails them all
// when the connection drops. The service keeps WebRTC, the encoder and
// consent; the helper owns only what needs the session's desktop:
// capture and input. Frames cross the pipe as captured (BGRA), only when
// the screen changed.

// deskService is the name the helper registers its calls under.
const deskService = "Desk"

// nextWait bounds one Next call in the helper, so that a session that
// ended (its context done on the service's side) frees the helper within
// this time even though net/rpc cannot cancel a call.
const nextWait = 250 * time.Millisecond

// Desktop is what a screen helper serves: its session's screen and input.
type Desktop struct {
	OpenSource func() (screen.Source, error)
	// Input opens the injector; nil serves a view-only desk.
	Input func() (screen.Injector, error)
}

// NextArgs asks for the next changed frame within Wait.
type NextArgs struct{ Wait time.Duration }

// NextReply is a changed frame, or none (Idle) when Wait passed first.
type NextReply struct {
	Frame screen.Frame
	Idle  bool
}

// ApplyArgs is one input event and the monitor's origin.
type ApplyArgs struct {
	Event  wire.InputEvent
	Origin image.Point
}

// Nothing is the argument or reply of a call that has none.
type Nothing struct{ Unused bool } // gob needs an exported field

// Desk is the helper's side of the protocol (exported for net/rpc; use
// Serve).
type Desk struct {
	d Desktop

	srcMu sync.Mutex // serialises source calls; Next holds it while it waits
	src   screen.Source

	wakeMu   sync.Mutex
	wake     context.CancelFunc // ends the Next in progress
	wakeSoon bool               // a Wake came before its Next started

	inMu sync.Mutex
	in   screen.Injector
}

// Open opens the screen, closing one left open.
func (k *Desk) Open(_ Nothing, _ *Nothing) error {
	k.srcMu.Lock()
	defer k.srcMu.Unlock()
	if k.src != nil {
		k.src.Close()
		k.src = nil
	}
	src, err := k.d.OpenSource()
	if err != nil {
		return err
	}
	k.src = src
	return nil
}

// withSource runs f on the open screen, one call at a time.
func (k *Desk) withSource(f func(screen.Source) error) error {
	k.srcMu.Lock()
	defer k.srcMu.Unlock()
	if k.src == nil {
		return errors.New("the screen is not open")
	}
	return f(k.src)
}

// Monitors lists the monitors.
func (k *Desk) Monitors(_ Nothing, out *[]wire.Monitor) error {
	return k.withSource(func(src screen.Source) (err error) {
		*out, err = src.Monitors()
		return err
	})
}

// Select switches to a monitor.
func (k *Desk) Select(index int, _ *Nothing) error {
	return k.withSource(func(src screen.Source) error { return src.Select(index) })
}

// Next waits up to a.Wait (at most nextWait) for a changed frame, or
// until Wake.
func (k *Desk) Next(a NextArgs, out *NextReply) error {
	return k.withSource(func(src screen.Source) error { return k.next(src, a, out) })
}

func (k *Desk) next(src screen.Source, a NextArgs, out *NextReply) error {
	wait := min(max(a.Wait, time.Millisecond), nextWait)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	k.wakeMu.Lock()
	if k.wakeSoon {
		cancel()
		k.wakeSoon = false
	}
	k.wake = cancel
	k.wakeMu.Unlock()
	defer func() {
		k.wakeMu.Lock()
		k.wake = nil
		k.wakeMu.Unlock()
	}()
	f, err := src.Next(ctx)
	if err != nil && ctx.Err() != nil {
		out.Idle = true
		return nil
	}
	out.Frame = f
	return err
}

// Wake ends the Next in progress (the service's session was woken: a
// keyframe request, a monitor switch, its end), or the next one to start
// if it has not yet: net/rpc cannot cancel a call.
func (k *Desk) Wake(_ Nothing, _ *Nothing) error {
	k.wakeMu.Lock()
	defer k.wakeMu.Unlock()
	if k.wake != nil {
		k.wake()
	} else {
		k.wakeSoon = true
	}
	return nil
}

// Grab captures the screen now.
func (k *Desk) Grab(_ Nothing, out *screen.Frame) error {
	return k.withSource(func(src screen.Source) (err error) {
		*out, err = src.Grab()
		return err
	})
}

// Close closes the screen.
func (k *Desk) Close(_ Nothing, _ *Nothing) error {
	k.srcMu.Lock()
	defer k.srcMu.Unlock()
	if k.src == nil {
		return nil
	}
	err := k.src.Close()
	k.src = nil
	return err
}

func (k *Desk) injector() (screen.Injector, error) {
	k.inMu.Lock()
	defer k.inMu.Unlock()
	if k.in != nil {
		return k.in, nil
	}
	if k.d.Input == nil {
		return nil, errors.New("this desk is view only")
	}
	in, err := k.d.Input()
	if err != nil {
		return nil, err
	}
	k.in = in
	return in, nil
}

// OpenInput opens the injector (once; later calls reuse it).
func (k *Desk) OpenInput(_ Nothing, _ *Nothing) error {
	_, err := k.injector()
	return err
}

// Apply applies one input event.
func (k *Desk) Apply(a ApplyArgs, _ *Nothing) error {
	in, err := k.injector()
	if err != nil {
		return err
	}
	return in.Apply(a.Event, a.Origin)
}

// CtrlAltDel sends the secure attention sequence.
func (k *Desk) CtrlAltDel(_ Nothing, _ *Nothing) error {
	in, err := k.injector()
	if err != nil {
		return err
	}
	return in.CtrlAltDel()
}

// ReleaseAll releases every key and button held.
func (k *Desk) ReleaseAll(_ Nothing, _ *Nothing) error {
	in, err := k.injector()
	if err != nil {
		return err
	}
	return in.ReleaseAll()
}

// Serve answers the service's calls on conn until it closes, then closes
// the screen if a session left it open.
func Serve(conn io.ReadWriteCloser, d Desktop) error {
	k := &Desk{d: d}
	srv := rpc.NewServer()
	if err := srv.RegisterName(deskService, k); err != nil {
		return fmt.Errorf("sessionhelper.Serve: %w", err)
	}
	srv.ServeCodec(newServerCodec(conn))
	return k.Close(Nothing{}, nil)
}

// ErrNoHelper is returned while no screen helper is connected: nobody's
// session is at the console, or the helper is (re)starting.
var ErrNoHelper = errors.New("no desktop: the screen helper for the console session is not running")

// Remote is the service's side: the screen and input of whichever helper
// is connected now, as the screen capability's Source and Injector.
type Remote struct {
	log *slog.Logger

	mu      sync.Mutex
	client  *rpc.Client
	changed chan struct{} // closed and replaced when a helper connects or goes
}

// NewRemote returns a Remote with no helper connected.
func NewRemote(log *slog.Logger) *Remote {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Remote{log: log, changed: make(chan struct{})}
}

// Attach makes conn, a screen helper's connection, the desk's; the one
// before it (a helper of another session) is closed, which ends any
// session on it. Attach returns at once; the desk drops conn when it
// fails.
func (r *Remote) Attach(conn io.ReadWriteCloser) {
	r.swap(rpc.NewClientWithCodec(newClientCodec(conn)))
}

// Detach closes the current helper's connection, if any.
func (r *Remote) Detach() { r.swap(nil) }

// swap makes c the current client, tells Connected's watchers, and closes
// the one before.
func (r *Remote) swap(c *rpc.Client) {
	r.mu.Lock()
	old := r.client
	r.client = c
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

// Connected reports whether a helper is attached, and a channel closed
// when that changes.
func (r *Remote) Connected() (bool, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.client != nil, r.changed
}

func (r *Remote) current() (*rpc.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client == nil {
		return nil, ErrNoHelper
	}
	return r.client, nil
}

// call makes one call on c.
func call(c *rpc.Client, method string, args, reply any) error {
	return callErr(c.Call(deskService+"."+method, args, reply))
}

// callErr: an error the helper returned comes back as it is; any other
// (the connection broke: EOF, a broken pipe, a client closed by Detach)
// means the helper went away, and reads as ErrNoHelper.
func callErr(err error) error {
	var se rpc.ServerError
	if err != nil && !errors.As(err, &se) {
		return fmt.Errorf("%w (it went away: %v)", ErrNoHelper, err)
	}
	return err
}

// OpenSource opens the screen in the helper connected now. The source
// stays bound to that helper: if the helper goes (a session switch), its
// calls fail and the screen session ends.
func (r *Remote) OpenSource() (screen.Source, error) {
	c, err := r.current()
	if err != nil {
		return nil, err
	}
	if err := call(c, "Open", Nothing{}, &Nothing{}); err != nil {
		return nil, fmt.Errorf("opening the screen in the helper: %w", err)
	}
	return &remoteSource{c: c}, nil
}

// Input opens input injection in the helper connected now.
func (r *Remote) Input() (screen.Injector, error) {
	c, err := r.current()
	if err != nil {
		return nil, err
	}
	if err := call(c, "OpenInput", Nothing{}, &Nothing{}); err != nil {
		return nil, fmt.Errorf("opening input in the helper: %w", err)
	}
	return remoteInput{c: c}, nil
}

type remoteSource struct {
	c     *rpc.Client
	reply NextReply    // reused: the codec reads pixels into its buffer
	grab  screen.Frame // the same for Grab
}

func (s *remoteSource) Monitors() ([]wire.Monitor, error) {
	var m []wire.Monitor
	err := call(s.c, "Monitors", Nothing{}, &m)
	return m, err
}

func (s *remoteSource) Select(index int) error { return call(s.c, "Select", index, &Nothing{}) }

// Next asks the helper for changes in calls of at most nextWait until one
// comes or ctx ends; when ctx ends during a call, Wake ends that call at
// once. The frame's pixels are valid until the next Next.
func (s *remoteSource) Next(ctx context.Context) (screen.Frame, error) {
	for {
		if err := ctx.Err(); err != nil {
			return screen.Frame{}, err
		}
		wait := nextWait
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl))
		}
		s.reply = NextReply{Frame: screen.Frame{Pix: s.reply.Frame.Pix[:0]}}
		c := s.c.Go(deskService+".Next", NextArgs{Wait: wait}, &s.reply, make(chan *rpc.Call, 1))
		select {
		case <-c.Done:
		case <-ctx.Done():
			s.c.Go(deskService+".Wake", Nothing{}, &Nothing{}, make(chan *rpc.Call, 1))
			<-c.Done // the reply lands in s.reply: wait for it
		}
		if err := callErr(c.Error); err != nil {
			return screen.Frame{}, err
		}
		if !s.reply.Idle {
			return s.reply.Frame, nil
		}
	}
}

// Grab captures now; the pixels are valid until the next Grab.
func (s *remoteSource) Grab() (screen.Frame, error) {
	s.grab = screen.Frame{Pix: s.grab.Pix[:0]}
	err := call(s.c, "Grab", Nothing{}, &s.grab)
	return s.grab, err
}

func (s *remoteSource) Close() error {
	err := call(s.c, "Close", Nothing{}, &Nothing{})
	if errors.Is(err, ErrNoHelper) {
		return nil // the helper's screen went with it
	}
	return err
}

type remoteInput struct{ c *rpc.Client }

func (in remoteInput) Apply(ev wire.InputEvent, origin image.Point) error {
	return call(in.c, "Apply", ApplyArgs{Event: ev, Origin: origin}, &Nothing{})
}

func (in remoteInput) CtrlAltDel() error { return call(in.c, "CtrlAltDel", Nothing{}, &Nothing{}) }

func (in remoteInput) ReleaseAll() error { return call(in.c, "ReleaseAll", Nothing{}, &Nothing{}) }
