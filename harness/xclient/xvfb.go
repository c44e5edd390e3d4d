// Package xclient is test support for code that watches or drives an X11
// screen: it starts a private Xvfb server for one test, opens a real X
// client window on it, draws predictable content (a pattern of coloured
// blocks, a scrolling load, a machine-readable time stamp) and reports the
// keyboard and mouse events the window receives.
//
// It is a normal package so that tests and benchmarks of several packages
// (screen capture, input injection, the end-to-end latency test) can share
// it; by convention only test code imports it.
//
//	display := xclient.StartXvfb(t, 1920, 1080)
//	w := xclient.OpenWindow(t, display, 0, 0, 800, 600)
//	if err := w.DrawPattern(); err != nil { ... }
//	// the pixel at window coordinate (x, y) is now xclient.PatternColor(x, y)
//
// Every drawing method returns only after the X server has executed the
// drawing, so a screen grab taken afterwards sees it.
package xclient

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jezek/xgb"

	"github.com/peerdesk/peerdesk/harness/wait"
)

// startTimeout bounds how long StartXvfb waits for the server to be ready:
// the suite's one deadline (10 s was hit with the CPUs contended).
const startTimeout = wait.Timeout

// StartXvfb starts a private Xvfb server with one screen of width x height
// pixels at depth 24 (32 bits per pixel), listening only on its local Unix
// socket, and returns its display name (":N"). The server picks a free
// display number itself (-displayfd) and reports it once it accepts
// connections, so parallel tests never race for a number. The server is
// killed when t ends, or when the test process dies (on Linux). StartXvfb
// changes no environment variable.
//
// It fails t (t.Fatal) if Xvfb is missing or does not come up.
func StartXvfb(t testing.TB, width, height int) string {
	t.Helper()
	if _, err := exec.LookPath("Xvfb"); err != nil {
		t.Fatalf("xclient.StartXvfb: %v (install the xvfb package)", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("xclient.StartXvfb: %v", err)
	}
	defer r.Close()
	out := &tailBuffer{max: 4096}
	cmd := exec.Command("Xvfb",
		"-displayfd", "3", // ExtraFiles[0]
		"-screen", "0", fmt.Sprintf("%dx%dx24", width, height),
		"-nolisten", "tcp",
		"-noreset",
	)
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = dieWithParent()
	cmd.Stdout = out
	cmd.Stderr = out
	// The parent-death signal follows the thread that forks, not the
	// process (go.dev/issue/27505): the goroutine that starts Xvfb keeps
	// its thread until Xvfb has exited, so that only the end of the test
	// process, never a thread the runtime lets go, kills the server.
	started := make(chan error, 1)
	waited := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		waited <- cmd.Wait()
	}()
	err = <-started
	w.Close() // the child holds its own copy; EOF on r now means it exited
	if err != nil {
		t.Fatalf("xclient.StartXvfb: %v", err)
	}
	t.Cleanup(func() { stopXvfb(t, cmd, waited) })
	// fail reports how Xvfb ended, if it did, with all it wrote (Wait
	// returns once its output has been copied).
	fail := func(format string, args ...any) {
		t.Helper()
		state := "it still runs"
		select {
		case err := <-waited:
			waited <- err // for the cleanup
			state = fmt.Sprintf("it exited: %v", err)
		case <-time.After(5 * time.Second):
		}
		t.Fatalf("xclient.StartXvfb: "+format+"; %s; output:\n%s", append(args, state, out)...)
	}

	// The reader ends when Xvfb writes its display number or exits (EOF).
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n') // a short read is reported below as "no display number"
		lines <- line
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(startTimeout):
		fail("no display number after %v", startTimeout)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		fail("no display number (%q)", line)
	}
	display := ":" + strconv.Itoa(n)
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		fail("connecting to %s: %v", display, err)
	}
	c.Close()
	return display
}

// stopXvfb terminates the server and waits for it, killing it if it does
// not exit in time.
func stopXvfb(t testing.TB, cmd *exec.Cmd, waited <-chan error) {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		// Already gone; Wait below still reaps it.
		t.Logf("xclient: signalling Xvfb: %v", err)
	}
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		if err := cmd.Process.Kill(); err != nil {
			t.Logf("xclient: killing Xvfb: %v", err)
		}
		<-waited
	}
}

// tailBuffer keeps the last max bytes written to it, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if extra := b.buf.Len() - b.max; extra > 0 {
		b.buf.Next(extra)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
