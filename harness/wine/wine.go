// Package wine is test support for the Windows test lane: it runs the real
// cross-compiled Windows agent, and cross-compiled Windows test binaries,
// under Wine on Linux.
//
// `just wine` (scripts/wine-lane.sh) installs wine64 and mingw-w64, builds
// the bcryptprimitives.dll shim from shim/ (Wine 8.0 has no
// bcryptprimitives.dll, whose ProcessPrng Go's Windows runtime needs at
// start-up) and makes a Wine prefix in
// ${XDG_CACHE_HOME:-$HOME/.cache}/peerdesk/wine/prefix (or
// $PEERDESK_WINEPREFIX) with the shim in its system32. [Require] finds that
// prefix and skips the test, naming `just wine`, when it is absent: a
// Windows test never passes without having run.
//
//	lane := wine.Require(t)
//	exe := wine.Build(t, "./cmd/peerdesk-agent")
//	res := lane.Run(t, "", exe, "-h")
//
// Every run sets WINEDEBUG=-all and WINEDLLOVERRIDES="mscoree,mshtml=" (Wine
// never offers to download Mono or Gecko) and DISPLAY to the given X
// display (an Xvfb of the test's own, from harness/xclient) or to nothing.
// By convention only test code imports this package.
package wine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/harness/wait"
)

// libDir is where Debian's wine64 package puts wine64 and wineserver (they
// are not on PATH without the wine package's wrappers).
const libDir = "/usr/lib/wine"

// Lane is a ready Windows test lane.
type Lane struct {
	// Prefix is the Wine prefix (WINEPREFIX), with the shim in system32.
	Prefix string
	// Wine is the wine64 loader.
	Wine string
	// held: a private prefix held as one boot (Private): its wineserver
	// runs for the whole test and no other test uses it, so Run neither
	// takes turns nor waits for it to exit.
	held bool
}

// Find returns the lane, or the zero Lane and why it is not there.
func Find() (Lane, string) {
	prefix := os.Getenv("PEERDESK_WINEPREFIX")
	if prefix == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return Lane{}, "no home directory to find the Wine prefix in: run `just wine`"
			}
			cache = filepath.Join(home, ".cache")
		}
		prefix = filepath.Join(cache, "peerdesk", "wine", "prefix")
	}
	wine, err := exec.LookPath("wine64")
	if err != nil {
		wine = filepath.Join(libDir, "wine64")
		if _, err := os.Stat(wine); err != nil {
			return Lane{}, "wine64 is not installed: run `just wine` (scripts/wine-lane.sh)"
		}
	}
	for _, f := range []string{"peerdesk-lane", "drive_c/windows/system32/bcryptprimitives.dll"} {
		if _, err := os.Stat(filepath.Join(prefix, f)); err != nil {
			return Lane{}, fmt.Sprintf("the Wine prefix %s is not ready (no %s): run `just wine` (scripts/wine-lane.sh)", prefix, f)
		}
	}
	return Lane{Prefix: prefix, Wine: wine}, ""
}

// Require returns the lane or skips t with a message naming `just wine`.
// It also skips in -short mode: Wine starts in seconds, not milliseconds.
func Require(t testing.TB) Lane {
	t.Helper()
	if testing.Short() {
		t.Skip("harness/wine: Windows lane skipped in -short mode")
	}
	if runtime.GOOS != "linux" {
		t.Skipf("harness/wine: the Windows lane runs on Linux, not %s", runtime.GOOS)
	}
	l, why := Find()
	if why != "" {
		t.Skipf("harness/wine: %s", why)
	}
	return l
}

// OpenH264 returns the path of the OpenH264 Windows DLL the lane built
// from Debian's source (scripts/openh264-win.sh, recorded in the prefix's
// peerdesk-openh264), or skips t naming `just wine` when the lane has none.
// Copied next to a Windows binary as openh264-2.3.1-win64.dll, it is the
// library the encoder loads (agent/screen/h264).
func (l Lane) OpenH264(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.Prefix, "peerdesk-openh264"))
	if err != nil {
		t.Skipf("harness/wine: the lane has no OpenH264 DLL (%v): run `just wine` (scripts/wine-lane.sh)", err)
	}
	path := strings.TrimSpace(string(b))
	if _, err := os.Stat(path); err != nil {
		t.Skipf("harness/wine: the lane's OpenH264 DLL is gone (%v): run `just wine` (scripts/wine-lane.sh)", err)
	}
	return path
}

// Env returns the environment for a Wine process on display ("" for
// none): the caller's, with WINEPREFIX, WINEDEBUG, WINEDLLOVERRIDES, DISPLAY
// and PATH (wineserver's directory first) set.
func (l Lane) Env(display string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "WINEPREFIX", "WINEDEBUG", "WINEDLLOVERRIDES", "WINEARCH", "DISPLAY", "WAYLAND_DISPLAY", "PATH":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"WINEPREFIX="+l.Prefix,
		"WINEARCH=win64",
		"WINEDEBUG=-all",
		"WINEDLLOVERRIDES=mscoree,mshtml=",
		"DISPLAY="+display,
		"PATH="+filepath.Dir(l.Wine)+string(os.PathListSeparator)+libDir+string(os.PathListSeparator)+os.Getenv("PATH"),
	)
}

// Command returns the command running exe (a Windows .exe path on the
// Linux file system, or a program in the prefix such as "notepad") with
// args under Wine on display. Cancelling ctx kills the Wine loader.
func (l Lane) Command(ctx context.Context, display, exe string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, l.Wine, append([]string{exe}, args...)...)
	cmd.Env = l.Env(display)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Private returns a lane on a copy of l's prefix in t's temporary
// directory, with a wineserver of its own, for a test that changes the
// machine (installs a service, writes HKLM): other tests, and other test
// processes sharing the cached prefix, never see it. The registry files are
// copied; the files under drive_c are hard links (Wine only reads the DLLs
// and programs there; what a test writes, it writes as new files), or
// copies where the temporary directory is on another file system. The
// prefix is held as one boot for the whole test (see hold). At the end of
// the test the private wineserver is killed with everything it runs
// (services.exe and any service) and the copy removed.
func (l Lane) Private(t testing.TB) Lane {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "prefix")
	cp := exec.Command("cp", "-a", "--link", filepath.Join(l.Prefix, "drive_c"), filepath.Join(dir, "drive_c"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("harness/wine: %v", err)
	}
	if out, err := cp.CombinedOutput(); err != nil {
		// Another file system (a tmpfs TMPDIR): copy instead (≈700 MB).
		t.Logf("harness/wine: cannot hard-link the prefix's drive_c (%v: %s); copying it", err, bytes.TrimSpace(out))
		if err := os.RemoveAll(filepath.Join(dir, "drive_c")); err != nil {
			t.Fatalf("harness/wine: %v", err)
		}
		if out, err := exec.Command("cp", "-a", filepath.Join(l.Prefix, "drive_c"), filepath.Join(dir, "drive_c")).CombinedOutput(); err != nil {
			t.Fatalf("harness/wine: copying the prefix's drive_c: %v\n%s", err, out)
		}
	}
	ents, err := os.ReadDir(l.Prefix)
	if err != nil {
		t.Fatalf("harness/wine: %v", err)
	}
	for _, e := range ents {
		if e.Name() == "drive_c" {
			continue
		}
		// The registry (*.reg), .update-timestamp (without it Wine
		// would update the prefix on start), the lane marker and the
		// dosdevices links.
		if out, err := exec.Command("cp", "-a", filepath.Join(l.Prefix, e.Name()), dir).CombinedOutput(); err != nil {
			t.Fatalf("harness/wine: copying %s: %v\n%s", e.Name(), err, out)
		}
	}
	p := Lane{Prefix: dir, Wine: l.Wine, held: true}
	t.Cleanup(func() { p.Kill(t) })
	p.hold(t)
	return p
}

// hold keeps one Wine process (cmd.exe reading its stdin) running on l
// until t ends, so that the wineserver and services.exe stay up between
// the test's commands: the prefix is one boot of one machine. Without it
// Wine ends its session a few seconds after the last program exits and
// the next command boots it again, and services.exe starts every service
// of start type automatic at that boot, as Windows does.
func (l Lane) hold(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := l.Command(ctx, "", "cmd")
	f, err := os.Create(filepath.Join(t.TempDir(), "held.log"))
	if err != nil {
		cancel()
		t.Fatalf("harness/wine: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	cmd.Stdout, cmd.Stderr = f, f
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(f.Name())
			t.Logf("harness/wine: the held session's output:\n%s", b)
		}
	})
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		t.Fatalf("harness/wine: %v", err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("harness/wine: starting cmd.exe to hold the prefix: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close() // cmd.exe ends at the end of its input
		cancel()      // or is killed
		// An error here is the kill; the test is over.
		_ = cmd.Wait()
	})
}

// Kill ends the lane's wineserver and every Wine process on it, and waits
// for it to exit.
func (l Lane) Kill(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Timeout)
	defer cancel()
	server := filepath.Join(filepath.Dir(l.Wine), "wineserver")
	if _, err := os.Stat(server); err != nil {
		server = filepath.Join(libDir, "wineserver")
	}
	kill := exec.CommandContext(ctx, server, "-k")
	kill.Env = l.Env("")
	if out, err := kill.CombinedOutput(); err != nil && len(out) > 0 {
		t.Logf("harness/wine: wineserver -k: %v\n%s", err, out)
	}
	w := exec.CommandContext(ctx, server, "-w")
	w.Env = l.Env("")
	if out, err := w.CombinedOutput(); err != nil && len(out) > 0 {
		t.Logf("harness/wine: wineserver -w: %v\n%s", err, out)
	}
}

// Result is what a finished Wine process left.
type Result struct {
	Stdout, Stderr string
	// Code is the exit code (-1 if it was killed).
	Code int
	// Took is the wall time from start to exit, Wine's start-up included.
	Took time.Duration
}

// Run runs exe with args under Wine on display, waits up to the suite's
// deadline (wait.Timeout) for it to exit and returns what it left. It fails
// t if the process could not be started or did not end in time; a non-zero
// exit is returned, not a failure.
//
// Runs in one prefix take turns, across test processes: a prefix's
// wineserver, and the desktop process it starts, stay on the X display of
// the run that started them for as long as any Wine process of the prefix
// lives, so a run on another test's Xvfb would see that test's monitors
// (found when agent/screen/h264 on a 1920x1080 display, beside e2e's Wine
// tests, saw a 1024x768 screen). Run holds an exclusive lock on the
// prefix's peerdesk-run.lock and waits for the previous run's wineserver
// to exit (`wineserver -w`) before starting its own — except on a held
// private prefix (Private), whose wineserver lives for the whole test.
func (l Lane) Run(t testing.TB, display, exe string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Timeout)
	defer cancel()
	if !l.held {
		unlock, err := lockFile(ctx, filepath.Join(l.Prefix, "peerdesk-run.lock"))
		if err != nil {
			t.Fatalf("harness/wine: waiting for the prefix: %v", err)
		}
		defer unlock()
		server := filepath.Join(filepath.Dir(l.Wine), "wineserver")
		if _, err := os.Stat(server); err != nil {
			server = filepath.Join(libDir, "wineserver")
		}
		ws := exec.CommandContext(ctx, server, "-w")
		ws.Env = l.Env("")
		if out, err := ws.CombinedOutput(); err != nil {
			t.Fatalf("harness/wine: waiting for the prefix's wineserver to exit: %v\n%s", err, out)
		}
	}
	cmd := l.Command(ctx, display, exe, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String(), Took: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("harness/wine: %s %v did not end within %v\nstdout:\n%s\nstderr:\n%s", exe, args, wait.Timeout, r.Stdout, r.Stderr)
	case errors.As(err, &exit):
		r.Code = exit.ExitCode()
	case err != nil:
		t.Fatalf("harness/wine: running %s: %v", exe, err)
	}
	return r
}

// Build cross-compiles the main package pkg (a path relative to the module
// root, e.g. "./cmd/peerdesk-agent") for windows/amd64 into t's temporary
// directory and returns the .exe's path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkg)+".exe")
	goCmd(t, "build", "-o", out, pkg)
	return out
}

// LaneTag is the build tag of the lane's own builds ([BuildLane]): with it
// the agent does what Wine cannot support and a release build must (today
// one thing: agent/state does not check the state directory's access list,
// which Wine cannot store; see agent/state/winelane_on.go). No release
// build sets it.
const LaneTag = "peerdesk_winelane"

// BuildLane is [Build] with the [LaneTag] build tag.
func BuildLane(t testing.TB, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkg)+".lane.exe")
	goCmd(t, "build", "-tags", LaneTag, "-o", out, pkg)
	return out
}

// BuildTest cross-compiles the tests of package pkg (e.g.
// "./agent/screen/capture") for windows/amd64 (`go test -c`) and returns
// the test binary's path; run it with -test.run and -test.v.
func BuildTest(t testing.TB, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkg)+".test.exe")
	goCmd(t, "test", "-c", "-o", out, pkg)
	return out
}

func goCmd(t testing.TB, args ...string) {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("harness/wine: go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func moduleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("harness/wine: cannot find the module root")
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(file))), nil
}
