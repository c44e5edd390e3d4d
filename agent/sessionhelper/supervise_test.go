//go:build linux

package sessionhelper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent/screen"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
)

// The test binary doubles as the screen helper: run with these variables
// it dials the socket and serves a desktop whose every pixel holds its
// session number, so the test can tell which helper the desk reaches.
const (
	envHelperSocket  = "SESSIONHELPER_TEST_SOCKET"
	envHelperSession = "SESSIONHELPER_TEST_SESSION"
)

func TestMain(m *testing.M) {
	if sock := os.Getenv(envHelperSocket); sock != "" {
		os.Exit(helperMain(sock, os.Getenv(envHelperSession)))
	}
	os.Exit(leak.Main(m))
}

func helperMain(sock, session string) int {
	n, err := strconv.Atoi(session)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad session:", err)
		return 2
	}
	conn, err := Dial(context.Background(), sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := Serve(conn, Desktop{OpenSource: func() (screen.Source, error) { return paintedSource(byte(n)), nil }}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// machine is the fake half of the platform: the sessions it reports and
// the real helper processes it launched.
type machine struct {
	t    *testing.T
	sock string
	snap atomic.Pointer[Snapshot]

	mu       sync.Mutex
	launched []*exec.Cmd
}

func (m *machine) set(s Snapshot) { m.snap.Store(&s) }

func (m *machine) sessions() (Snapshot, error) { return *m.snap.Load(), nil }

func (m *machine) launch(w Want) (Proc, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelperSocket+"="+m.sock, envHelperSession+"="+strconv.Itoa(int(w.Session)))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.launched = append(m.launched, cmd)
	m.mu.Unlock()
	return &ExecProc{Pid: uint32(cmd.Process.Pid), WaitFunc: cmd.Wait, KillFunc: cmd.Process.Kill}, nil
}

func (m *machine) last() *exec.Cmd {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.launched[len(m.launched)-1]
}

func (m *machine) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.launched)
}

func TestSupervisorFollowsTheConsole(t *testing.T) {
	leak.Check(t)
	dir := t.TempDir()
	m := &machine{t: t, sock: filepath.Join(dir, "helper.sock")}
	user := func(id uint32, name string) Session { return Session{ID: id, State: Active, User: name} }
	m.set(Snapshot{Console: 1, Sessions: []Session{{ID: 0, State: Disconnected}, user(1, `PC\ann`)}})
	ln, err := Listen(m.sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(m.sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the helper socket is %v (%v), want owner-only 0600", fi.Mode().Perm(), err)
	}
	desk := NewRemote(nil)
	sup := &Supervisor{
		Sessions:  m.sessions,
		Launch:    m.launch,
		Listener:  ln,
		ClientPID: ClientPID,
		Desk:      desk,
		Poll:      20 * time.Millisecond,
		Logger:    testLogger(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	defer func() {
		cancel()
		if err := wait.Recv(t, "the supervisor to stop", done); err != nil {
			t.Error(err)
		}
		for _, c := range m.launched {
			if c.ProcessState == nil {
				t.Errorf("helper %d still runs after the supervisor stopped", c.Process.Pid)
			}
		}
	}()

	wait.For(t, "the desk to reach session 1's helper", func() bool { return servesSession(desk, 1) })
	if n := m.count(); n != 1 {
		t.Fatalf("%d helpers launched for one console session, want 1 (only the screen helper runs for long)", n)
	}

	// A process that is not the launched helper is turned away, even on the
	// right socket, and the desk keeps its helper.
	rogue, err := Dial(context.Background(), m.sock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rogue.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("a connection from another process read %v, want EOF (closed by the service)", err)
	}
	rogue.Close()
	if !servesSession(desk, 1) {
		t.Fatal("after the refused connection the desk no longer reaches session 1's helper")
	}

	// Fast user switch to a second user: session 1's helper is stopped
	// and one in session 2 started at once.
	first := m.last()
	m.set(Snapshot{Console: 2, Sessions: []Session{{ID: 0, State: Disconnected}, {ID: 1, State: Disconnected, User: `PC\ann`}, user(2, `PC\bob`)}})
	wait.For(t, "the desk to reach session 2's helper", func() bool { return servesSession(desk, 2) })
	wait.For(t, "session 1's helper to end", func() bool { return gone(first) })

	// The helper dies: it is started again (after Backoff's first second)
	// and the desk reaches the new one.
	second := m.last()
	if err := second.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the desk to lose the dead helper", func() bool { ok, _ := desk.Connected(); return !ok })
	wait.For(t, "a new helper in session 2", func() bool { return m.last() != second && servesSession(desk, 2) })

	// No session at the console (a switch in progress): no helper, and a
	// screen session gets a clear error.
	m.set(Snapshot{Console: NoSession, Sessions: []Session{{ID: 0, State: Disconnected}}})
	wait.For(t, "the helper to stop", func() bool { return gone(m.last()) })
	if _, err := desk.OpenSource(); !errors.Is(err, ErrNoHelper) {
		t.Errorf("OpenSource with no console session: %v, want ErrNoHelper", err)
	}
}

// gone reports whether cmd's process has ended (the supervisor waits
// for it, which fills ProcessState); a zero-signal probe also answers
// once it is gone.
func gone(cmd *exec.Cmd) bool {
	return cmd.Process.Signal(syscall.Signal(0)) != nil
}

// testLogger shows the supervisor's log with -v.
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}
