package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"tailscale.com/tstest"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/grant"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/wire"
)

type audit struct {
	mu  sync.Mutex
	evs []wire.AuditEvent
	err error // returned by Record once set
}

func (a *audit) Record(ev wire.AuditEvent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return a.err
	}
	a.evs = append(a.evs, ev)
	return nil
}

func (a *audit) fail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.err = err
}

// of returns the records of action, their fields.
func (a *audit) of(action string) []map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []map[string]string
	for _, ev := range a.evs {
		if ev.Action == action {
			out = append(out, ev.Fields)
		}
	}
	return out
}

// rig serves one Handler on a loopback HTTP server, as the peer server
// would after the gate; end cancels the calls' contexts as the end user's
// End does.
type rig struct {
	t     *testing.T
	h     *Handler
	srv   *httptest.Server
	audit *audit
	clock *tstest.Clock

	mu      sync.Mutex
	cancels []context.CancelFunc
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	leak.Check(t)
	rg := &rig{t: t, audit: &audit{}, clock: tstest.NewClock(tstest.ClockOpts{Start: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)})}
	if cfg.Audit == nil {
		cfg.Audit = rg.audit
	}
	if cfg.Clock == nil {
		cfg.Clock = rg.clock
	}
	cfg.Device = "dev-1"
	cfg.Dir = t.TempDir()
	cfg.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + cfg.Dir, "PS1=$ ", "ENV="}
	rg.h = New(cfg)
	caller := gate.Caller{Technician: "alice", Node: node.Identity{Name: "tech-alice", NodeKey: "nodekey:abc"}, Grant: grant.Grant{ID: "g1"}}
	rg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		rg.mu.Lock()
		rg.cancels = append(rg.cancels, cancel)
		rg.mu.Unlock()
		rg.h.ServePeer(w, r.WithContext(ctx), caller)
	}))
	t.Cleanup(rg.srv.Close)
	return rg
}

// end ends every call, as the user's End on their page does.
func (rg *rig) end() {
	rg.mu.Lock()
	defer rg.mu.Unlock()
	for _, c := range rg.cancels {
		c()
	}
}

// term is the technician's side of one shell.
type term struct {
	t    *testing.T
	conn *websocket.Conn

	mu     sync.Mutex
	out    bytes.Buffer
	stderr bytes.Buffer
	exit   chan wire.ShellExitStatus
	more   chan struct{} // signalled on every frame
}

func (rg *rig) open(req wire.ShellRequest) *term {
	rg.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(rg.srv.URL, "http")+wire.PeerPathShell+"?"+req.Query(), nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		rg.t.Fatalf("dial: %v (status %d)", err, status)
	}
	conn.SetReadLimit(wire.MaxShellFrame + 1)
	tm := &term{t: rg.t, conn: conn, exit: make(chan wire.ShellExitStatus, 1), more: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			f, err := wire.DecodeShellFrame(b)
			if err != nil {
				rg.t.Errorf("agent sent a bad frame: %v", err)
				return
			}
			tm.mu.Lock()
			switch f.Type {
			case wire.ShellOutput:
				tm.out.Write(f.Data)
			case wire.ShellStderr:
				tm.stderr.Write(f.Data)
			case wire.ShellExit:
				tm.exit <- f.Exit
			}
			tm.mu.Unlock()
		}
	}()
	rg.t.Cleanup(func() {
		conn.CloseNow()
		<-done
	})
	return tm
}

func (tm *term) send(f wire.ShellFrame) {
	tm.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tm.conn.Write(ctx, websocket.MessageBinary, wire.EncodeShellFrame(f)); err != nil {
		tm.t.Fatalf("send: %v", err)
	}
}

func (tm *term) typeIn(s string) { tm.send(wire.ShellFrame{Type: wire.ShellInput, Data: []byte(s)}) }

func (tm *term) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

// waitOut waits until the output contains want.
func (tm *term) waitOut(want string) {
	tm.t.Helper()
	wait.ForErr(tm.t, "the terminal to show "+strconv.Quote(want), func() error {
		if o := tm.output(); !strings.Contains(o, want) {
			return fmt.Errorf("it shows %q", o)
		}
		return nil
	})
}

func (tm *term) waitExit() wire.ShellExitStatus {
	tm.t.Helper()
	return wait.Recv(tm.t, "the exit status", tm.exit)
}

func TestEchoExitAndAudit(t *testing.T) {
	rg := newRig(t, Config{})
	tm := rg.open(wire.ShellRequest{Shell: "sh"})
	tm.typeIn("echo hel''lo\r")
	tm.waitOut("hello")
	tm.typeIn("echo draft\x7f\x7f\x7f\x7f\x7fnot this\x15exit 7\r")
	ex := tm.waitExit()
	if ex.Code != 7 || ex.Reason != wire.ShellExited {
		t.Fatalf("exit = %+v, want 7, exited", ex)
	}
	starts, ends, lines := rg.audit.of("shell.start"), rg.audit.of("shell.end"), rg.audit.of("shell.line")
	if len(starts) != 1 || starts[0]["run"] != "/bin/sh" || starts[0]["tty"] != "true" || starts[0]["pid"] == "" {
		t.Errorf("start records: %v", starts)
	}
	if len(ends) != 1 || ends[0]["code"] != "7" || ends[0]["reason"] != "exited" || ends[0]["duration"] == "" || ends[0]["shell"] != starts[0]["shell"] {
		t.Errorf("end records: %v", ends)
	}
	var typed []string
	for _, l := range lines {
		typed = append(typed, l["line"])
	}
	if strings.Join(typed, "|") != "echo hel''lo|exit 7" {
		t.Errorf("lines recorded: %q", typed)
	}
}

func TestResizeSeenByStty(t *testing.T) {
	rg := newRig(t, Config{})
	tm := rg.open(wire.ShellRequest{Shell: "sh", Cols: 80, Rows: 24})
	tm.typeIn("stty size\r")
	tm.waitOut("24 80")
	tm.send(wire.ShellFrame{Type: wire.ShellResize, Cols: 132, Rows: 43})
	tm.typeIn("stty size\r")
	tm.waitOut("43 132")
	tm.typeIn("exit\r")
	if ex := tm.waitExit(); ex.Code != 0 || ex.Reason != wire.ShellExited {
		t.Fatalf("exit = %+v", ex)
	}
}

func TestCommandExitStatusAndStreams(t *testing.T) {
	rg := newRig(t, Config{})
	tm := rg.open(wire.ShellRequest{Command: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}})
	ex := tm.waitExit()
	if ex.Code != 3 || ex.Reason != wire.ShellExited {
		t.Fatalf("exit = %+v, want 3", ex)
	}
	tm.mu.Lock()
	out, serr := tm.out.String(), tm.stderr.String()
	tm.mu.Unlock()
	if out != "out\n" || serr != "err\n" {
		t.Errorf("stdout %q, stderr %q", out, serr)
	}
	if s := rg.audit.of("shell.start"); len(s) != 1 || s[0]["run"] != "sh -c echo out; echo err >&2; exit 3" || s[0]["tty"] != "false" {
		t.Errorf("start records: %v", s)
	}

	// On a terminal, with input ended.
	tm = rg.open(wire.ShellRequest{Command: []string{"cat"}})
	tm.typeIn("abc")
	tm.send(wire.ShellFrame{Type: wire.ShellEOF})
	if ex := tm.waitExit(); ex.Code != 0 || tm.output() != "abc" {
		t.Fatalf("cat: exit %+v, output %q", ex, tm.output())
	}
}

func TestRefusals(t *testing.T) {
	rg := newRig(t, Config{})
	for q, want := range map[string]int{
		"shell=zsh":                    http.StatusBadRequest,
		"cols=5000":                    http.StatusBadRequest,
		"arg=no-such-command-peerdesk": http.StatusNotFound,
		"shell=powershell":             http.StatusNotFound,
	} {
		resp, err := http.Get(rg.srv.URL + wire.PeerPathShell + "?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", q, resp.StatusCode, want)
		}
	}
	if s := rg.audit.of("shell.start"); len(s) != 0 {
		t.Errorf("refused calls started shells: %v", s)
	}
	// A shell whose start cannot be audited does not start.
	rg.audit.fail(errors.New("disk full"))
	resp, err := http.Get(rg.srv.URL + wire.PeerPathShell + "?shell=sh")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("with the audit trail failing: %d", resp.StatusCode)
	}
}

func TestIdleTimeoutTechnicianAsksLess(t *testing.T) {
	rg := newRig(t, Config{Idle: 15 * time.Minute})
	tm := rg.open(wire.ShellRequest{Shell: "sh", Idle: time.Minute})
	tm.typeIn("echo ready\r")
	tm.waitOut("ready\r\n$ ")
	rg.clock.Advance(59 * time.Second)
	tm.typeIn("echo still\r") // activity: the minute starts again
	tm.waitOut("still\r\n$ ")
	rg.clock.Advance(59 * time.Second)
	select {
	case ex := <-tm.exit:
		t.Fatalf("ended %v after activity 59 s ago", ex)
	default:
	}
	rg.clock.Advance(time.Second)
	ex := tm.waitExit()
	if ex.Reason != wire.ShellIdle || ex.Signal != "killed" {
		t.Fatalf("exit = %+v, want idle, killed", ex)
	}
	if e := rg.audit.of("shell.end"); len(e) != 1 || e[0]["reason"] != "idle" || e[0]["signal"] != "killed" {
		t.Errorf("end records: %v", e)
	}
}

func TestMaxDuration(t *testing.T) {
	rg := newRig(t, Config{Max: time.Hour})
	tm := rg.open(wire.ShellRequest{Shell: "sh", Max: 2 * time.Hour}) // asking for more gets the agent's
	tm.typeIn("echo ready\r")
	tm.waitOut("ready\r\n$ ")
	for i := range 6 { // busy all along: ten minutes at a time
		rg.clock.Advance(10 * time.Minute)
		if i < 5 {
			tm.typeIn(fmt.Sprintf("echo t''ick%d\r", i))
			tm.waitOut(fmt.Sprintf("tick%d\r\n", i))
		}
	}
	ex := tm.waitExit()
	if ex.Reason != wire.ShellMaxDuration {
		t.Fatalf("exit = %+v, want max-duration", ex)
	}
	if s := rg.audit.of("shell.start"); len(s) != 1 || s[0]["max"] != "1h0m0s" {
		t.Errorf("start records: %v", s)
	}
}

// procGone reports whether pid has ended (gone, or a zombie nobody reaped
// yet: it no longer runs).
func procGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}

// TestEndKillsEverything: the user's End (the call's context) ends the
// shell and everything it started, including a job that interactive bash
// put in a process group of its own.
func TestEndKillsEverything(t *testing.T) {
	if _, err := os.Stat("/bin/bash"); err != nil {
		t.Skip("needs bash for job control")
	}
	rg := newRig(t, Config{})
	tm := rg.open(wire.ShellRequest{Shell: "bash"})
	tm.typeIn("PS1='$ '; sleep 1001 & echo job=$!; sh -c 'sleep 1002 & echo child=$!; wait' &\r")
	tm.waitOut("child=")
	var job, child int
	wait.ForErr(t, "both pids", func() error {
		o := tm.output()
		for _, f := range strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(o)) {
			if v, ok := strings.CutPrefix(f, "job="); ok {
				job, _ = strconv.Atoi(v)
			}
			if v, ok := strings.CutPrefix(f, "child="); ok {
				child, _ = strconv.Atoi(v)
			}
		}
		if job == 0 || child == 0 {
			return fmt.Errorf("output %q", o)
		}
		return nil
	})
	if procGone(job) || procGone(child) {
		t.Fatal("the jobs did not start")
	}
	// A line typed at readline's prompt (which turns echo off and echoes
	// itself) is recorded.
	tm.typeIn("echo t''wo\r")
	tm.waitOut("two\r\n")
	if l := rg.audit.of("shell.line"); len(l) != 2 || l[1]["line"] != "echo t''wo" {
		t.Errorf("lines recorded at bash's prompt: %v", l)
	}
	rg.end()
	ex := tm.waitExit()
	if ex.Reason != wire.ShellEnded || ex.Signal != "killed" {
		t.Fatalf("exit = %+v, want ended, killed", ex)
	}
	wait.For(t, "the shell's jobs to be gone", func() bool { return procGone(job) && procGone(child) })
}

func TestBoundedFrames(t *testing.T) {
	rg := newRig(t, Config{})
	tm := rg.open(wire.ShellRequest{Shell: "sh"})
	tm.typeIn("echo ready\r")
	tm.waitOut("ready")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	big := append([]byte{wire.ShellInput}, bytes.Repeat([]byte("a"), wire.MaxShellFrame+1)...)
	tm.conn.Write(ctx, websocket.MessageBinary, big) //nolint:errcheck // the agent drops the connection for it
	wait.For(t, "the shell to end", func() bool { return len(rg.audit.of("shell.end")) == 1 })
	if e := rg.audit.of("shell.end")[0]; e["reason"] != wire.ShellDisconnected || e["signal"] != "killed" {
		t.Errorf("end record: %v", e)
	}

	// A frame the technician may not send ends the shell too.
	tm = rg.open(wire.ShellRequest{Shell: "sh"})
	tm.send(wire.ShellFrame{Type: wire.ShellExit, Exit: wire.ShellExitStatus{Reason: wire.ShellExited}})
	if ex := tm.waitExit(); ex.Reason != wire.ShellFailed {
		t.Fatalf("exit = %+v, want failed", ex)
	}
}

func TestPasswordLineNotRecorded(t *testing.T) {
	rg := newRig(t, Config{})
	tm := rg.open(wire.ShellRequest{Shell: "sh"})
	// The terminal stops echoing before READY is written (the echoed
	// command line shows RE""ADY).
	tm.typeIn("stty -echo; echo RE\"\"ADY; read pw; stty echo; echo got=${#pw}\r")
	tm.waitOut("READY")
	tm.typeIn("hunter2\r")
	tm.waitOut("got=7")
	tm.typeIn("exit\r")
	tm.waitExit()
	var typed []string
	for _, l := range rg.audit.of("shell.line") {
		typed = append(typed, l["line"])
	}
	if strings.Contains(strings.Join(typed, "|"), "hunter2") || len(typed) != 3 || !strings.Contains(typed[1], "not recorded") {
		t.Errorf("lines recorded: %q", typed)
	}
}

// TestCloseEndsShells: the agent stopping (Close, after the peer server
// stopped) ends every shell, waits for its end record, and refuses new ones.
func TestCloseEndsShells(t *testing.T) {
	rg := newRig(t, Config{})
	tm := rg.open(wire.ShellRequest{Shell: "sh"})
	tm.typeIn("echo ready\r")
	tm.waitOut("ready")
	if err := rg.h.Close(); err != nil {
		t.Fatal(err)
	}
	if e := rg.audit.of("shell.end"); len(e) != 1 || e[0]["reason"] != wire.ShellEnded { // recorded before Close returned
		t.Fatalf("end records when Close returned: %v", e)
	}
	if ex := tm.waitExit(); ex.Reason != wire.ShellEnded || ex.Message != "the agent stopped" {
		t.Errorf("exit = %+v", ex)
	}
	resp, err := http.Get(rg.srv.URL + wire.PeerPathShell + "?shell=sh")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a shell after Close: %d", resp.StatusCode)
	}
}
