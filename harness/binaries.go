package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Binaries builds peerdesk, peerdesk-agent and peerdesk-viewer once per
// test process and returns the directory holding them. It skips the test
// in -short mode, as does everything that runs them (Start, Run,
// SupportBinary).
//
// The directory is named for the test process, which has no hook at its
// end to remove it; each build first removes those of test processes that
// have ended (150 MB each: left alone, a day of test runs filled the
// disk).
func Binaries(t testing.TB) string {
	t.Helper()
	SkipShort(t)
	buildOnce.Do(func() {
		sweepBinaries(os.TempDir())
		binDir, buildErr = os.MkdirTemp("", binPrefix+strconv.Itoa(os.Getpid())+"-")
		if buildErr != nil {
			return
		}
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+string(filepath.Separator), "./cmd/peerdesk", "./cmd/peerdesk-agent", "./cmd/peerdesk-viewer")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("harness: %v", buildErr)
	}
	return binDir
}

const binPrefix = "peerdesk-bin-"

// sweepBinaries removes the binary directories in dir of test processes
// that are no longer running ("peerdesk-bin-PID-RANDOM"); a name of
// another shape is left alone.
func sweepBinaries(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), binPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// processAlive reports whether a process with this id exists (signal 0
// checks without sending anything).
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

func moduleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("harness: cannot find the module root")
	}
	return filepath.Dir(filepath.Dir(file)), nil
}

// Process is a running peerdesk binary.
type Process struct {
	exited atomic.Bool
	Cmd    *exec.Cmd
	lines  chan string
	output *strings.Builder
	mu     sync.Mutex
	done   chan struct{}
}

// Start runs binary name from Binaries with args; its stdout lines can be
// awaited with WaitLine, and stderr is kept for failure messages. It is
// killed when the test ends.
func Start(t testing.TB, env []string, name string, args ...string) *Process {
	t.Helper()
	return StartPath(t, env, filepath.Join(Binaries(t), name), args...)
}

// StartPath is Start for an executable at path.
func StartPath(t testing.TB, env []string, path string, args ...string) *Process {
	t.Helper()
	name := filepath.Base(path)
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = dieWithParent()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{Cmd: cmd, lines: make(chan string, 1024), output: &strings.Builder{}, done: make(chan struct{})}
	cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.output.Len() < 1<<20 {
			p.output.Write(b)
		}
		if os.Getenv("PEERDESK_TEST_LOG") != "" {
			os.Stderr.Write(b)
		}
		return len(b), nil
	})
	// The parent-death signal (dieWithParent) follows the thread that
	// forks, not the process (go.dev/issue/27505): the goroutine that
	// starts the binary keeps its thread until the binary has exited.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
		cmd.Wait() //nolint:errcheck // exit status is read through ProcessState
		p.exited.Store(true)
		close(p.done)
	}()
	if err := <-started; err != nil {
		t.Fatalf("harness: starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck // may have exited
		<-p.done
	})
	return p
}

// WaitLine returns the first stdout line containing substr.
func (p *Process) WaitLine(t testing.TB, substr string) string {
	t.Helper()
	timeout := time.After(Timeout)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("harness: %s exited before printing %q; stderr:\n%s", p.Cmd.Path, substr, p.Stderr())
			}
			if strings.Contains(l, substr) {
				return l
			}
		case <-timeout:
			t.Fatalf("harness: %s did not print %q; stderr:\n%s", p.Cmd.Path, substr, p.Stderr())
		}
	}
}

// Stderr is what the process wrote to stderr so far.
func (p *Process) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

// Wait waits for the process to exit on its own and returns its exit code.
func (p *Process) Wait(t testing.TB) int {
	t.Helper()
	select {
	case <-p.done:
		return p.Cmd.ProcessState.ExitCode()
	case <-time.After(Timeout):
		t.Fatalf("harness: %s did not exit; stderr:\n%s", p.Cmd.Path, p.Stderr())
		return -1
	}
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool { return p.exited.Load() }

// Kill sends SIGKILL and waits for the process to end.
func (p *Process) Kill() {
	p.Cmd.Process.Kill() //nolint:errcheck // may have exited
	<-p.done
}

// Stop sends SIGTERM and waits for a clean exit.
func (p *Process) Stop(t testing.TB) {
	t.Helper()
	p.Cmd.Process.Signal(os.Interrupt) //nolint:errcheck // may have exited
	select {
	case <-p.done:
	case <-time.After(Timeout):
		t.Fatalf("harness: %s did not stop", p.Cmd.Path)
	}
}

// Run runs binary name to completion and returns its stdout.
func Run(t testing.TB, env []string, name string, args ...string) (string, error) {
	t.Helper()
	return RunInput(t, env, "", name, args...)
}

// RunInput is Run with stdin given (nothing: stdin is empty).
func RunInput(t testing.TB, env []string, stdin, name string, args ...string) (string, error) {
	t.Helper()
	bin := filepath.Join(Binaries(t), name) // a first build is not part of the run's time
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = dieWithParent()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.Stdin = strings.NewReader(stdin)
	// The parent-death signal follows this thread (see StartPath): it
	// stays with this goroutine until the binary has exited.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

var _ io.Writer = writerFunc(nil)
