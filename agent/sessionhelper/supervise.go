package sessionhelper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Proc is a helper process the supervisor launched.
type Proc interface {
	PID() uint32
	Wait() error // returns when it has exited
	Kill() error
}

// Supervisor keeps the screen helper running in the console session and
// hands its connection to the desk (the service's side of [Run]).
type Supervisor struct {
	// Sessions snapshots the machine's sessions ([Sessions] on Windows).
	Sessions func() (Snapshot, error)
	// Launch starts a helper for w; it connects back on Listener.
	Launch func(w Want) (Proc, error)
	// Listener is where helpers connect ([Listen] on PipeName).
	Listener net.Listener
	// ClientPID names the process at the other end of a connection
	// ([ClientPID]); a connection from any process but a running screen
	// helper the supervisor launched is closed.
	ClientPID func(net.Conn) (uint32, error)
	// Desk receives the screen helper's connection.
	Desk *Remote
	// Poll is how often sessions are looked at (0: every second): logon,
	// logoff, lock and switches are found by polling, which needs no
	// service-control plumbing and costs one WTS call a second.
	Poll   time.Duration
	Now    func() time.Time // nil: time.Now
	Logger *slog.Logger
}

type running struct {
	Helper
	proc Proc
}

type exited struct {
	proc Proc
	err  error
}

// Run supervises until ctx ends, then stops the helpers it started and
// closes the listener.
func (s *Supervisor) Run(ctx context.Context) error {
	if s.Sessions == nil || s.Launch == nil || s.Listener == nil || s.ClientPID == nil || s.Desk == nil {
		return errors.New("sessionhelper.Supervisor: Sessions, Launch, Listener, ClientPID and Desk are required")
	}
	now := s.Now
	if now == nil {
		now = time.Now
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	poll := s.Poll
	if poll <= 0 {
		poll = time.Second
	}

	conns := make(chan net.Conn)
	exits := make(chan exited)
	acceptDone := make(chan struct{})
	go func() {
		defer close(acceptDone)
		for {
			c, err := s.Listener.Accept()
			if err != nil {
				log.Debug("the helper pipe stopped accepting", "err", err)
				return
			}
			select {
			case conns <- c:
			case <-ctx.Done():
				c.Close()
				return
			}
		}
	}()

	var known []running // the latest helper per role
	waiting := 0        // Wait goroutines not yet reported
	// stop kills known[i]; it counts as exited now, with no delay to
	// restart it should it be wanted again, so its exit is not a crash.
	stop := func(i int, why string) {
		r := known[i]
		log.Info("stopping the session helper", "role", r.Role, "session", r.Session, "as", r.As, "pid", r.PID, "why", why)
		if r.Role == Screen {
			s.Desk.Detach() // first: once it is gone, no call may reach it
		}
		if err := r.proc.Kill(); err != nil {
			log.Warn("stopping the session helper", "pid", r.PID, "err", err)
		}
		known[i].Exited, known[i].Delay = now(), 0
	}
	// start launches w; prev is the restart delay of the helper it
	// replaces (0: none), which a restart keeps until the run proves
	// itself and a failed launch doubles.
	start := func(w Want, prev time.Duration) running {
		r := running{Helper: Helper{Want: w, Started: now(), Delay: prev}}
		p, err := s.Launch(w)
		if err != nil {
			log.Warn("starting the session helper", "role", w.Role, "session", w.Session, "as", w.As, "err", err)
			r.Exited = r.Started
			r.Delay = Backoff(prev, 0)
			return r
		}
		r.proc, r.PID = p, p.PID()
		log.Info("started the session helper", "role", w.Role, "session", w.Session, "as", w.As, "pid", r.PID)
		waiting++
		go func() {
			err := p.Wait()
			exits <- exited{proc: p, err: err}
		}()
		return r
	}
	reconcile := func() time.Time {
		snap, err := s.Sessions()
		if err != nil {
			log.Warn("listing sessions", "err", err)
			return time.Time{}
		}
		var want []Want
		for _, w := range Choose(snap) {
			if w.Role == Screen { // the user's helper is launched per request (OpenForUser)
				want = append(want, w)
			}
		}
		helpers := make([]Helper, len(known))
		for i, r := range known {
			helpers[i] = r.Helper
		}
		plan := Reconcile(want, helpers, now())
		for _, h := range plan.Stop {
			for i, r := range known {
				if r.PID == h.PID && r.Running() {
					stop(i, "not wanted in this session any more")
				}
			}
		}
		for _, w := range plan.Start {
			i := indexRole(known, w.Role)
			var prev time.Duration
			if i >= 0 && !known[i].Running() && known[i].Want == w {
				prev = known[i].Delay
			}
			r := start(w, prev)
			if i < 0 {
				known = append(known, r)
			} else {
				known[i] = r
			}
		}
		return plan.RetryAt
	}

	tick := time.NewTicker(poll)
	defer tick.Stop()
	var retry *time.Timer
	retryC := func() <-chan time.Time {
		if retry == nil {
			return nil
		}
		return retry.C
	}
	schedule := func(at time.Time) {
		if retry != nil {
			retry.Stop()
			retry = nil
		}
		if !at.IsZero() {
			retry = time.NewTimer(max(at.Sub(now()), 0))
		}
	}
	schedule(reconcile())
	for {
		select {
		case <-ctx.Done():
			s.Listener.Close()
			<-acceptDone
			for i, r := range known {
				if r.Running() && r.proc != nil {
					stop(i, "the service stops")
				}
			}
			for waiting > 0 {
				<-exits
				waiting--
			}
			if retry != nil {
				retry.Stop()
			}
			return nil
		case <-tick.C:
			schedule(reconcile())
		case <-retryC():
			retry = nil
			schedule(reconcile())
		case e := <-exits:
			waiting--
			for i, r := range known {
				if r.proc != e.proc || !r.Running() {
					continue
				}
				at := now()
				known[i].Exited = at
				known[i].Delay = Backoff(r.Delay, at.Sub(r.Started))
				log.Warn("the session helper exited", "role", r.Role, "session", r.Session, "pid", r.PID, "err", e.err, "restart_in", known[i].Delay)
				if r.Role == Screen {
					s.Desk.Detach()
				}
			}
			schedule(reconcile())
		case c := <-conns:
			log.Debug("a connection on the helper pipe")
			pid, err := s.ClientPID(c)
			i := indexRole(known, Screen)
			if err != nil || i < 0 || !known[i].Running() || known[i].PID != pid {
				log.Warn("refused a connection on the helper pipe: not the screen helper this service started", "pid", pid, "err", err)
				c.Close()
				continue
			}
			log.Info("the screen helper connected", "session", known[i].Session, "pid", pid)
			s.Desk.Attach(c)
		}
	}
}

func indexRole(rs []running, role Role) int {
	for i, r := range rs {
		if r.Role == role {
			return i
		}
	}
	return -1
}

// ExecProc adapts a started process's PID, wait and kill functions.
type ExecProc struct {
	Pid      uint32
	WaitFunc func() error
	KillFunc func() error
}

// PID is the process id.
func (p *ExecProc) PID() uint32 { return p.Pid }

// Wait waits for the process to exit.
func (p *ExecProc) Wait() error { return p.WaitFunc() }

// Kill ends the process.
func (p *ExecProc) Kill() error {
	if err := p.KillFunc(); err != nil {
		return fmt.Errorf("killing helper %d: %w", p.Pid, err)
	}
	return nil
}
