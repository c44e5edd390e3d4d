// Package shell is the agent's shell capability (wire.CapShell, R4): an
// interactive terminal, or one command, on this machine for a technician,
// over the overlay.
//
// # Overview
//
// A technician's viewer calls GET wire.PeerPathShell with a grant for the
// shell and its wire.ShellRequest in the query; the agent checks the
// request, starts the shell (bash, then sh, on Linux; PowerShell, then cmd,
// on Windows; or the one the technician names, if this machine has it) or
// the command (argv, looked up on the agent's PATH, never parsed by a
// shell), then upgrades the call to a WebSocket that carries wire shell
// frames both ways: what is typed and the terminal's size in, what the
// terminal writes out, and last the exit status.
//
// An interactive shell runs on a terminal: a PTY (creack/pty) on Linux, a
// ConPTY on Windows. A command runs on pipes (stdout and stderr apart, its
// input closed on request) unless the technician asks for a terminal.
// Either way it runs in a session of its own (a job object on Windows), and
// ending it ends everything it started.
//
// # Ending
//
// A shell ends when it exits, when nothing was typed or written for
// [Config.Idle], when it has run for [Config.Max] (the technician may ask
// for less of either, not more), when the technician's side goes away, and
// when the call's context ends: the peer server holds the end user's
// consent lease for the whole call (peer.ConsentPerCall), so the user's End
// on their page, a revocation or the agent stopping kills the shell's whole
// process group and session. The exit status (code or signal) and the
// reason go back to the technician as the last frame.
//
// # Audit
//
// The gate audits the call; this package records the shell's start (what
// ran, on a terminal or not), its end (exit status, reason, duration) and
// every line the technician typed and submitted with Enter, up to
// [MaxLine] bytes. A typed line is what was typed, not a parse of the
// shell: editing keys are applied, escape sequences (arrows, history
// recall, the terminal's answers to queries) and Tab completions are not
// seen, keys a full-screen program took without Enter (top's q) lead the
// next line, and a line typed while the
// terminal reads lines without echoing them (a password prompt: echo off,
// canonical mode on) is recorded as not recorded; on Windows, where a
// ConPTY does not tell, every line is recorded.
// A shell whose records cannot be written is not started, or is ended.
package shell

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"tailscale.com/tstime"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/wire"
)

// Defaults of Config.
const (
	DefaultIdle = 15 * time.Minute
	DefaultMax  = 4 * time.Hour
)

// Recorder keeps audit records (package auditlog).
type Recorder interface {
	Record(ev wire.AuditEvent) error
}

// Config configures the capability. The zero value serves this OS's shells
// with the default limits and records nothing.
type Config struct {
	// Idle ends a shell after this long without input or output;
	// DefaultIdle if zero.
	Idle time.Duration
	// Max ends a shell after this long whatever happens; DefaultMax if
	// zero.
	Max time.Duration
	// Device names this machine in audit records.
	Device string
	Audit  Recorder // nil records nothing
	Clock  tstime.Clock
	Logger *slog.Logger
	// Env is the environment shells and commands get; os.Environ() if
	// nil. TERM is set for a terminal.
	Env []string
	// Dir is where they start; the agent user's home directory if empty.
	Dir string

	// goos and exists pick the shell (tests); runtime.GOOS and a stat
	// of an executable if zero.
	goos   string
	exists func(string) bool
}

// Handler serves wire.PeerPathShell.
type Handler struct {
	cfg Config

	mu      sync.Mutex
	closed  bool
	closing chan struct{} // closed by Close: every shell ends
	running sync.WaitGroup
}

// New returns the capability's handler.
func New(cfg Config) *Handler {
	if cfg.Idle <= 0 {
		cfg.Idle = DefaultIdle
	}
	if cfg.Max <= 0 {
		cfg.Max = DefaultMax
	}
	if cfg.Clock == nil {
		cfg.Clock = tstime.StdClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Env == nil {
		cfg.Env = os.Environ()
	}
	if cfg.Dir == "" {
		if h, err := os.UserHomeDir(); err == nil {
			cfg.Dir = h
		}
	}
	if cfg.goos == "" {
		cfg.goos = runtime.GOOS
	}
	if cfg.exists == nil {
		cfg.exists = func(p string) bool {
			fi, err := os.Stat(p)
			return err == nil && fi.Mode().IsRegular()
		}
	}
	return &Handler{cfg: cfg, closing: make(chan struct{})}
}

// Close ends every shell and waits until each has ended and recorded its
// end; later calls are refused. The peer server calls it once it has
// stopped (peer.Capability.Close): a shell's connection, taken over from
// net/http, is not one the server waits for.
func (h *Handler) Close() error {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.closing)
	}
	h.mu.Unlock()
	h.running.Wait()
	return nil
}

// Capability is what a caller's grant must include.
func (*Handler) Capability() wire.Capability { return wire.CapShell }

// ServePeer runs one shell or command for the length of the call.
func (h *Handler) ServePeer(w http.ResponseWriter, r *http.Request, c gate.Caller) {
	req, err := wire.ParseShellRequest(r.URL.RawQuery)
	if err != nil {
		gate.WriteError(w, http.StatusBadRequest, wire.CodeBadRequest, strings.TrimPrefix(err.Error(), "wire: "))
		return
	}
	sp := spec{tty: req.TTY || len(req.Command) == 0, cols: req.Cols, rows: req.Rows, dir: h.cfg.Dir}
	if sp.cols == 0 {
		sp.cols = 80
	}
	if sp.rows == 0 {
		sp.rows = 24
	}
	what := ""
	if len(req.Command) > 0 {
		path, err := exec.LookPath(req.Command[0])
		if err != nil {
			gate.WriteError(w, http.StatusNotFound, wire.CodeNotFound, "no such command on this machine: "+req.Command[0])
			return
		}
		sp.prog, what = program{Path: path, Args: req.Command}, strings.Join(req.Command, " ")
	} else {
		sp.prog, err = shellFor(h.cfg.goos, req.Shell, os.Getenv("SystemRoot"), h.cfg.exists)
		if err != nil {
			gate.WriteError(w, http.StatusNotFound, wire.CodeNotFound, strings.TrimPrefix(err.Error(), "shell: "))
			return
		}
		what = sp.prog.Path
	}
	sp.env = append(envWithout(h.cfg.Env, "TERM"), "TERM=dumb")
	if sp.tty {
		sp.env[len(sp.env)-1] = "TERM=xterm-256color"
	}
	idle, max := h.cfg.Idle, h.cfg.Max
	if req.Idle > 0 && req.Idle < idle {
		idle = req.Idle
	}
	if req.Max > 0 && req.Max < max {
		max = req.Max
	}

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		gate.WriteError(w, http.StatusServiceUnavailable, wire.CodeInternal, "the agent is stopping")
		return
	}
	h.running.Add(1)
	h.mu.Unlock()
	defer h.running.Done()
	s := &session{h: h, caller: c, id: newID(), idle: idle, max: max}
	p, err := startProcess(sp)
	if err != nil {
		h.cfg.Logger.Warn("shell did not start", "err", err)
		status := http.StatusInternalServerError
		if errors.Is(err, errors.ErrUnsupported) {
			status = http.StatusNotImplemented
		}
		gate.WriteError(w, status, wire.CodeInternal, "the shell could not start: "+err.Error())
		return
	}
	s.p = p
	start := h.cfg.Clock.Now()
	if err := s.record("shell.start", map[string]string{"run": what, "tty": strconv.FormatBool(sp.tty),
		"pid": strconv.Itoa(p.Pid()), "idle": idle.String(), "max": max.String()}); err != nil {
		s.kill()
		p.Wait() //nolint:errcheck // reaped; the call is refused
		p.Close()
		gate.WriteError(w, http.StatusServiceUnavailable, wire.CodeInternal, "the agent cannot write its audit trail")
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		s.kill()
		code, sig, _ := p.Wait()
		p.Close()
		s.end(wire.ShellExitStatus{Code: code, Signal: sig, Reason: wire.ShellDisconnected}, start)
		return
	}
	conn.SetReadLimit(wire.MaxShellFrame + 1)
	s.run(r.Context(), conn, start)
}

// session is one running shell.
type session struct {
	h         *Handler
	caller    gate.Caller
	id        string
	idle, max time.Duration
	p         process
	lines     lines
	active    atomic.Int64 // the clock's UnixNano at the last input or output
	killed    sync.Once
}

// stop is why a session is ended before its process exits.
type stop struct{ reason, message string }

// run pumps frames until the process has exited and its output is sent,
// ending it first if something else ends the session; then it records the
// end, sends the exit status and closes conn.
func (s *session) run(ctx context.Context, conn *websocket.Conn, start time.Time) {
	clk := s.h.cfg.Clock
	// connCtx outlives ctx: the last frame is still sent after the
	// user's End. It ends when run returns.
	connCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stops := make(chan stop, 4)
	ended := func(st stop) {
		select {
		case stops <- st:
		default:
		}
	}
	s.touch()
	// The timers only signal: a clock may call them with its own lock
	// held (tstest.Clock does), so they must not call it back.
	maxFired, idleFired := make(chan struct{}, 1), make(chan struct{}, 1)
	signal := func(c chan struct{}) func() {
		return func() {
			select {
			case c <- struct{}{}:
			default:
			}
		}
	}
	maxT := clk.AfterFunc(s.max, signal(maxFired))
	defer maxT.Stop()
	idleT := clk.AfterFunc(s.idle, signal(idleFired))
	defer idleT.Stop()

	// Output: the terminal (or stdout, and stderr) to frames.
	var outputs sync.WaitGroup
	var writeMu sync.Mutex
	send := func(ctx context.Context, f wire.ShellFrame) error {
		writeMu.Lock()
		defer writeMu.Unlock()
		return conn.Write(ctx, websocket.MessageBinary, wire.EncodeShellFrame(f))
	}
	pump := func(rd io.Reader, typ byte) {
		defer outputs.Done()
		buf := make([]byte, wire.MaxShellFrame)
		for {
			n, err := rd.Read(buf)
			if n > 0 {
				s.touch()
				if send(connCtx, wire.ShellFrame{Type: typ, Data: buf[:n]}) != nil {
					ended(stop{wire.ShellDisconnected, ""})
					io.Copy(io.Discard, rd) //nolint:errcheck // drained until the process ends
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	outputs.Add(1)
	go pump(s.p.Output(), wire.ShellOutput)
	if e := s.p.Stderr(); e != nil {
		outputs.Add(1)
		go pump(e, wire.ShellStderr)
	}

	// Input: frames to the terminal or stdin.
	inputDone := make(chan struct{})
	go func() {
		defer close(inputDone)
		for {
			typ, b, err := conn.Read(connCtx)
			if err != nil {
				ended(stop{wire.ShellDisconnected, ""})
				return
			}
			if typ != websocket.MessageBinary {
				ended(stop{wire.ShellFailed, "a text message on a binary protocol"})
				return
			}
			f, err := wire.DecodeShellFrame(b)
			if err != nil {
				ended(stop{wire.ShellFailed, strings.TrimPrefix(err.Error(), "wire: ")})
				return
			}
			switch f.Type {
			case wire.ShellInput:
				s.touch()
				if err := s.typed(f.Data); err != nil {
					ended(stop{wire.ShellFailed, "the agent cannot write its audit trail"})
					return
				}
				if _, err := s.p.Input().Write(f.Data); err != nil {
					continue // the process is going; its exit ends the session
				}
			case wire.ShellResize:
				if err := s.p.Resize(f.Cols, f.Rows); err != nil {
					s.h.cfg.Logger.Debug("shell resize", "err", err)
				}
			case wire.ShellEOF:
				s.p.CloseInput() //nolint:errcheck // a process that has gone has no input to end
			default:
				ended(stop{wire.ShellFailed, "a frame the technician's side may not send"})
				return
			}
		}
	}()

	type result struct {
		code int
		sig  string
	}
	exited := make(chan result, 1)
	go func() {
		code, sig, err := s.p.Wait()
		if err != nil {
			s.h.cfg.Logger.Debug("shell wait", "err", err)
		}
		exited <- result{code, sig}
	}()

	why := stop{reason: wire.ShellExited}
	var res result
wait:
	for {
		select {
		case res = <-exited:
			break wait
		case why = <-stops:
			break wait
		case <-ctx.Done():
			why = stop{wire.ShellEnded, "the session was ended on the machine"}
			break wait
		case <-s.h.closing:
			why = stop{wire.ShellEnded, "the agent stopped"}
			break wait
		case <-maxFired:
			why = stop{wire.ShellMaxDuration, "the shell reached its maximum duration of " + s.max.String()}
			break wait
		case <-idleFired:
			quiet := clk.Since(time.Unix(0, s.active.Load()))
			if quiet < s.idle {
				idleT.Reset(s.idle - quiet)
				// The clock may have passed the deadline between reading
				// it and setting the timer, which then waits a whole
				// extra span (CI: a test's clock moved in that window
				// and the shell never ended): look again.
				quiet = clk.Since(time.Unix(0, s.active.Load()))
			}
			if quiet >= s.idle {
				why = stop{wire.ShellIdle, "nothing was typed or shown for " + s.idle.String()}
				break wait
			}
		}
	}
	// Whatever ended it, nothing it started outlives it.
	s.kill()
	if why.reason != wire.ShellExited {
		res = <-exited
	}
	// Everything written before the end is sent. A process that left
	// the session and kept the terminal open is not waited for long.
	drained := make(chan struct{})
	go func() { outputs.Wait(); close(drained) }()
	safety := time.NewTimer(drainWait)
	select {
	case <-drained:
	case <-safety.C:
		s.h.cfg.Logger.Warn("the shell's output stays open after it ended, or the technician's side reads nothing; closing both")
		cancel() // a write the technician's side does not read ends, and the connection with it
	}
	safety.Stop()
	s.p.Close() //nolint:errcheck // the process has ended; this also ends a pump still reading
	<-drained
	exit := wire.ShellExitStatus{Code: res.code, Signal: res.sig, Reason: why.reason, Message: why.message}
	s.end(exit, start)
	// The last frame, then the close handshake, which also ends the
	// input loop's Read (cancelling its context would drop the
	// connection before the exit status is read).
	wctx, wcancel := context.WithTimeout(connCtx, 5*time.Second)
	if send(wctx, wire.ShellFrame{Type: wire.ShellExit, Exit: exit}) == nil {
		conn.Close(websocket.StatusNormalClosure, exit.Reason) //nolint:errcheck // the exit status is sent
	}
	wcancel()
	conn.CloseNow() //nolint:errcheck // closed already, or the other side is gone
	cancel()
	<-inputDone
}

// drainWait bounds how long output is read after a shell ended.
const drainWait = 5 * time.Second

func (s *session) touch() { s.active.Store(s.h.cfg.Clock.Now().UnixNano()) }

func (s *session) kill() {
	s.killed.Do(func() {
		if err := s.p.Kill(); err != nil {
			s.h.cfg.Logger.Warn("ending the shell's processes", "err", err)
		}
	})
}

// typed records the lines p submits.
func (s *session) typed(p []byte) error {
	var err error
	s.lines.feed(p, func(line string, truncated bool) {
		if err != nil {
			return
		}
		f := map[string]string{"line": line}
		if s.p.Hidden() {
			f["line"] = "(typed at a prompt that hides input, not recorded)"
		}
		if truncated {
			f["truncated"] = "true"
		}
		err = s.record("shell.line", f)
	})
	return err
}

func (s *session) end(exit wire.ShellExitStatus, start time.Time) {
	f := map[string]string{"code": strconv.Itoa(exit.Code), "reason": exit.Reason,
		"duration": s.h.cfg.Clock.Since(start).Round(time.Millisecond).String()}
	if exit.Signal != "" {
		f["signal"] = exit.Signal
	}
	if err := s.record("shell.end", f); err != nil {
		s.h.cfg.Logger.Error("audit record failed", "err", err)
	}
}

func (s *session) record(action string, fields map[string]string) error {
	if s.h.cfg.Audit == nil {
		return nil
	}
	fields["shell"] = s.id
	fields["node_key"] = s.caller.Node.NodeKey
	fields["grant"] = s.caller.Grant.ID
	return s.h.cfg.Audit.Record(wire.AuditEvent{Time: s.h.cfg.Clock.Now(), Actor: s.caller.Technician, Action: action,
		Target: s.h.cfg.Device, Outcome: "ok", Fields: fields})
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b) //nolint:errcheck // never fails
	return hex.EncodeToString(b)
}

func envWithout(env []string, key string) []string {
	out := make([]string, 0, len(env)+1)
	for _, e := range env {
		if !strings.HasPrefix(e, key+"=") {
			out = append(out, e)
		}
	}
	return out
}
