package procs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/grant"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/wire"
)

type records struct {
	mu   sync.Mutex
	evs  []wire.AuditEvent
	fail error
}

func (r *records) Record(ev wire.AuditEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.evs = append(r.evs, ev)
	return nil
}

func (r *records) all() []wire.AuditEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]wire.AuditEvent(nil), r.evs...)
}

var caller = gate.Caller{Technician: "tina", Node: node.Identity{NodeKey: "nodekey:1"}, Grant: grant.Grant{ID: "g1"}}

// child starts a real sleep and returns it with a function that waits
// for it and returns its wait status (the same each call).
func child(t *testing.T) (*exec.Cmd, func() error) {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wait := sync.OnceValue(cmd.Wait)
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck // may have ended already
		wait()             //nolint:errcheck // reaped only
	})
	return cmd, wait
}

func find(t *testing.T, h *Handler, pid int) wire.Process {
	t.Helper()
	l, err := h.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range l.Processes {
		if int(p.PID) == pid {
			return p
		}
	}
	t.Fatalf("pid %d not in a list of %d", pid, len(l.Processes))
	return wire.Process{}
}

func signalled(t *testing.T, err error, want syscall.Signal) {
	t.Helper()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("the child ended with %v, want signal %v", err, want)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != want {
		t.Fatalf("the child ended with %v, want signal %v", ws, want)
	}
}

func TestListShowsARealChild(t *testing.T) {
	leak.Check(t)
	cmd, _ := child(t)
	h := &Handler{}
	p := find(t, h, cmd.Process.Pid)
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "sleep" || p.Command != "sleep 1000" || p.User != me.Username || p.RSS == 0 || p.PPID <= 0 {
		t.Errorf("listed %+v", p)
	}
	if age := time.Since(time.UnixMilli(p.Started)); age < -time.Second || age > time.Minute {
		t.Errorf("started %v ago", age)
	}
	// A second list has a previous sample for the CPU share.
	if again := find(t, h, cmd.Process.Pid); again.Started != p.Started || again.CPU < 0 {
		t.Errorf("second list %+v", again)
	}
}

func TestKillByPIDAndStartTime(t *testing.T) {
	leak.Check(t)
	cmd, done := child(t)
	rec := &records{}
	h := &Handler{Device: "dev1", Audit: rec}
	p := find(t, h, cmd.Process.Pid)
	res, err := h.Kill(context.Background(), caller, wire.ProcessKill{PID: p.PID, Started: p.Started})
	if err != nil {
		t.Fatal(err)
	}
	if res.Name != "sleep" || res.Signal != wire.SignalTerm {
		t.Errorf("answer %+v", res)
	}
	signalled(t, done(), syscall.SIGTERM)
	evs := rec.all()
	if len(evs) != 1 || evs[0].Action != "processes.kill" || evs[0].Actor != "tina" || evs[0].Target != "dev1" ||
		evs[0].Fields["name"] != "sleep" || evs[0].Fields["pid"] != itoa(p.PID) || evs[0].Outcome != "ok" {
		t.Errorf("audit %+v", evs)
	}
}

func itoa(pid int32) string { b, _ := json.Marshal(pid); return string(b) }

// TestKillRefusesReusedPID: a kill whose start time is not the process's
// (the id was reused since the list) signals nothing; the process is still
// there for a kill with the right start time, whose signal is the one it
// dies of.
func TestKillRefusesReusedPID(t *testing.T) {
	leak.Check(t)
	cmd, done := child(t)
	rec := &records{}
	h := &Handler{Audit: rec}
	p := find(t, h, cmd.Process.Pid)
	for _, off := range []int64{-10, 10, -1000} {
		if _, err := h.Kill(context.Background(), caller, wire.ProcessKill{PID: p.PID, Started: p.Started + off, Signal: wire.SignalKill}); !errors.Is(err, ErrReused) {
			t.Fatalf("start %+d ms: %v, want ErrReused", off, err)
		}
	}
	if n := len(rec.all()); n != 0 {
		t.Errorf("%d audit records of refused kills", n)
	}
	if _, err := h.Kill(context.Background(), caller, wire.ProcessKill{PID: p.PID, Started: p.Started, Signal: wire.SignalKill}); err != nil {
		t.Fatal(err)
	}
	signalled(t, done(), syscall.SIGKILL)
}

func TestKillEndedProcess(t *testing.T) {
	leak.Check(t)
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	h := &Handler{Audit: &records{}}
	if _, err := h.Kill(context.Background(), caller, wire.ProcessKill{PID: int32(cmd.Process.Pid), Started: time.Now().UnixMilli()}); !errors.Is(err, ErrGone) {
		t.Fatalf("kill of an ended process: %v, want ErrGone", err)
	}
}

// TestKillNotAuditedNotDone: when the record cannot be written the signal
// is not sent.
func TestKillNotAuditedNotDone(t *testing.T) {
	leak.Check(t)
	cmd, done := child(t)
	rec := &records{fail: errors.New("disk full")}
	h := &Handler{Audit: rec}
	p := find(t, h, cmd.Process.Pid)
	if _, err := h.Kill(context.Background(), caller, wire.ProcessKill{PID: p.PID, Started: p.Started}); !errors.Is(err, errAudit) {
		t.Fatalf("%v, want errAudit", err)
	}
	rec.mu.Lock()
	rec.fail = nil
	rec.mu.Unlock()
	// Still alive: this kill, with SIGKILL, is what it dies of.
	if _, err := h.Kill(context.Background(), caller, wire.ProcessKill{PID: p.PID, Started: p.Started, Signal: wire.SignalKill}); err != nil {
		t.Fatal(err)
	}
	signalled(t, done(), syscall.SIGKILL)
}

func TestServePeer(t *testing.T) {
	leak.Check(t)
	cmd, done := child(t)
	h := &Handler{Audit: &records{}}
	mux := http.NewServeMux()
	for _, r := range []string{"GET " + wire.PeerPathProcesses, "POST " + wire.PeerPathProcessKill} {
		mux.Handle(r, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServePeer(w, r, caller) }))
	}
	do := func(method, path, body string) (int, []byte) {
		rr := httptest.NewRecorder()
		mux.ServeHTTP(rr, httptest.NewRequest(method, path, strings.NewReader(body)))
		return rr.Code, rr.Body.Bytes()
	}
	code, body := do("GET", wire.PeerPathProcesses, "")
	var l wire.ProcessList
	if code != 200 || json.Unmarshal(body, &l) != nil || len(l.Processes) < 2 {
		t.Fatalf("list: %d %s", code, body)
	}
	var p wire.Process
	for _, q := range l.Processes {
		if int(q.PID) == cmd.Process.Pid {
			p = q
		}
	}
	for _, bad := range []string{`{"pid":0,"started":1}`, `{"pid":-1,"started":1}`, `{"pid":5}`, `{"pid":5,"started":1,"x":1}`,
		`{"pid":5,"started":1,"signal":"stop"}`, `{"pid":5,"started":1} {}`, strings.Repeat(" ", wire.MaxRequestBody+1) + "{}"} {
		if code, body := do("POST", wire.PeerPathProcessKill, bad); code != http.StatusBadRequest {
			t.Errorf("kill %.40q: %d %s", bad, code, body)
		}
	}
	code, body = do("POST", wire.PeerPathProcessKill, `{"pid":`+itoa(p.PID)+`,"started":`+strings.TrimSpace(string(mustJSON(p.Started+1)))+`}`)
	if code != http.StatusConflict {
		t.Errorf("reused pid: %d %s", code, body)
	}
	var buf bytes.Buffer
	json.NewEncoder(&buf).Encode(wire.ProcessKill{PID: p.PID, Started: p.Started}) //nolint:errcheck // a buffer
	if code, body := do("POST", wire.PeerPathProcessKill, buf.String()); code != 200 {
		t.Fatalf("kill: %d %s", code, body)
	}
	signalled(t, done(), syscall.SIGTERM)
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestKillSelfRefused(t *testing.T) {
	t.Parallel()
	h := &Handler{Audit: &records{}}
	self := find(t, h, selfPID())
	if _, err := h.Kill(context.Background(), caller, wire.ProcessKill{PID: self.PID, Started: self.Started}); !errors.Is(err, ErrSelf) {
		t.Fatalf("%v, want ErrSelf", err)
	}
}

func TestCPUShareAndBound(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(10 * time.Second)
	if got := cpuShare(sample{}, 5, start.UnixMilli(), now); got != 50 {
		t.Errorf("lifetime share %v, want 50", got)
	}
	if got := cpuShare(sample{cpu: 4, at: now.Add(-2 * time.Second)}, 5, start.UnixMilli(), now); got != 50 {
		t.Errorf("share since the last sample %v, want 50", got)
	}
	if got := cpuShare(sample{cpu: 9, at: now.Add(-2 * time.Second)}, 5, start.UnixMilli(), now); got != 50 {
		t.Errorf("with a sample ahead of the process (another process) %v, want the lifetime 50", got)
	}
	if got := cpuShare(sample{}, 5, now.UnixMilli(), now); got != 0 {
		t.Errorf("zero span %v", got)
	}
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{{"abc", 5, "abc"}, {"abcdef", 3, "abc"}, {"aé", 2, "a"}, {"日本", 4, "日"}, {"\xff\xffabc", 3, "\xff\xffa"}} {
		if got := bound(c.in, c.n); got != c.want {
			t.Errorf("bound(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func selfPID() int { return os.Getpid() }
