package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	ksvc "github.com/kardianos/service"

	"github.com/peerdesk/peerdesk/harness/wait"
)

// TestSystemdUnitMatchesLibrary has the library itself install the unit (as
// a user service into a throwaway home, so nothing on this machine changes)
// and checks that SystemdUnit renders exactly what it wrote.
func TestSystemdUnitMatchesLibrary(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the systemd backend exists on Linux only")
	}
	if _, err := exec.LookPath("systemctl"); err != nil {
		// Install runs `systemctl enable` after writing the file; without it
		// the library still writes the file, which is what is compared.
		t.Log("no systemctl: the library's enable step will fail, the file is still written")
	}
	var systemd ksvc.System
	for _, s := range ksvc.AvailableSystems() {
		if s.String() == "linux-systemd" {
			systemd = s
		}
	}
	if systemd == nil {
		t.Fatal("kardianos/service offers no linux-systemd backend")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))

	cfg := Config{
		Name:       "peerdesk-agent-test-render",
		Executable: "/opt/peer desk/peerdesk-agent",
		Args:       []string{"run", "-state", "/var/lib/peer desk", "-unattended=true", `-display=:0 "x"`},
	}
	kc := cfg.kardianos()
	kc.Option["UserService"] = true
	s, err := systemd.New(&program{}, kc)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Install(); err != nil {
		// Expected where no user manager runs (daemon-reload fails).
		t.Logf("library Install after writing the unit: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(home, ".config/systemd/user", cfg.Name+".service"))
	if err != nil {
		t.Fatalf("the library wrote no unit: %v", err)
	}
	want, err := SystemdUnit(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(got), want); d != "" {
		t.Errorf("SystemdUnit differs from what the library installs (-library +SystemdUnit):\n%s", d)
	}
	for _, line := range []string{
		`ExecStart=/opt/peer\x20desk/peerdesk-agent "run" "-state" "/var/lib/peer desk" "-unattended=true" "-display=:0 \"x\""`,
		"Restart=always",
	} {
		if !strings.Contains(string(got), line+"\n") {
			t.Errorf("installed unit lacks %q:\n%s", line, got)
		}
	}
}

// TestSystemdAnalyzeVerify checks the unit with systemd's own parser, with
// the test binary as the program it runs.
func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is missing: install the Debian package systemd to run this test")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	name := "peerdesk-agent-test-verify"
	cfg := Config{Name: name, Executable: exe, Args: []string{"run", "-state", "/var/lib/peerdesk-agent", "-unattended"}}
	unit, err := SystemdUnit(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"ExecStart=" + strings.ReplaceAll(exe, " ", `\x20`) + ` "run" "-state" "/var/lib/peerdesk-agent" "-unattended"`,
		"Restart=always",
		"RestartSec=5",
		"Wants=network-online.target",
		"After=network-online.target",
		"StartLimitIntervalSec=0",
		"WantedBy=multi-user.target",
	} {
		if !strings.Contains(unit, "\n"+line+"\n") {
			t.Errorf("unit lacks the line %q:\n%s", line, unit)
		}
	}

	verify := func(t *testing.T, unit string) string {
		t.Helper()
		path := filepath.Join(t.TempDir(), name+".service")
		if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", path).CombinedOutput()
		var complaints []string
		for l := range strings.Lines(string(out)) {
			if strings.Contains(l, name) {
				complaints = append(complaints, strings.TrimSpace(l))
			}
		}
		if err != nil {
			complaints = append(complaints, err.Error())
		}
		return strings.Join(complaints, "\n")
	}
	if c := verify(t, unit); c != "" {
		t.Errorf("systemd-analyze verify rejects the unit:\n%s\n\n%s", c, unit)
	}
	// The check can fail: systemd-analyze notices a broken unit.
	broken := strings.Replace(unit, "Restart=always", "Restart=alwayz", 1)
	if c := verify(t, broken); c == "" {
		t.Error("systemd-analyze verify found nothing wrong with Restart=alwayz")
	}
}

// TestSystemdLive installs a throwaway service on this machine's systemd,
// kills its main process and waits for systemd to restart it. It runs only
// where systemd is PID 1 and the test runs as root.
func TestSystemdLive(t *testing.T) {
	comm, err := os.ReadFile("/proc/1/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "systemd" {
		t.Skipf("systemd is not PID 1 here (PID 1 is %q): the unit is checked by TestSystemdAnalyzeVerify instead", strings.TrimSpace(string(comm)))
	}
	if os.Geteuid() != 0 {
		t.Skip("installing a system service needs root")
	}
	if out, err := exec.Command("systemctl", "is-system-running").Output(); err != nil && !strings.HasPrefix(string(out), "degraded") {
		t.Skipf("systemd is not usable: %s %v", out, err)
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary to run as the service")
	}
	name := fmt.Sprintf("peerdesk-agent-test-%d", os.Getpid())
	m, err := New(Config{Name: name, Executable: sleep, Args: []string{"infinity"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Platform() != "linux-systemd" {
		t.Skipf("the library chose %s, not systemd", m.Platform())
	}
	if err := m.Install(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Uninstall(); err != nil && !errors.Is(err, ErrNotInstalled) {
			t.Errorf("cleanup: %v", err)
		}
	})
	if st, err := m.Status(); err != nil || st != Stopped {
		t.Fatalf("after install: %v %v, want stopped", st, err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	mainPID := func() int {
		out, err := exec.Command("systemctl", "show", "-p", "MainPID", "--value", name+".service").Output()
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil {
			t.Fatal(err)
		}
		return pid
	}
	waitPID := func(not int) (pid int) {
		t.Helper()
		wait.For(t, fmt.Sprintf("a main process other than %d", not), func() bool {
			pid = mainPID()
			return pid != 0 && pid != not
		})
		return pid
	}
	first := waitPID(0)
	if st, err := m.Status(); err != nil || st != Running {
		t.Fatalf("after start: %v %v, want running", st, err)
	}
	if err := exec.Command("kill", "-9", strconv.Itoa(first)).Run(); err != nil {
		t.Fatal(err)
	}
	second := waitPID(first)
	t.Logf("systemd restarted the service: pid %d → %d", first, second)
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if st, err := m.Status(); err != nil || st != Stopped {
		t.Fatalf("after stop: %v %v, want stopped", st, err)
	}
	if err := m.Uninstall(); err != nil {
		t.Fatal(err)
	}
	if st, err := m.Status(); err != nil || st != NotInstalled {
		t.Fatalf("after uninstall: %v %v, want not installed", st, err)
	}
}

// TestOptions pins what each service manager is told.
func TestOptions(t *testing.T) {
	kc := Config{Args: []string{"run"}}.kardianos()
	want := map[string]any{
		"Restart": "always", "StartType": "automatic", "DelayedAutoStart": false,
		"OnFailure": "restart", "OnFailureDelayDuration": "5s",
		"RunAtLoad": true, "KeepAlive": true, "SystemdScript": SystemdScript,
	}
	for k, v := range want {
		if kc.Option[k] != v {
			t.Errorf("option %s = %v, want %v", k, kc.Option[k], v)
		}
	}
	if kc.Name != Name || kc.DisplayName == "" || kc.Description == "" || len(kc.Dependencies) != 0 {
		t.Errorf("config %+v", kc)
	}
	if d, err := time.ParseDuration(RestartDelay); err != nil || d > 10*time.Second {
		t.Errorf("restart delay %q is not short", RestartDelay)
	}
}

// TestProgram drives Run's service loop with a fake service manager.
func TestProgram(t *testing.T) {
	errBoom := errors.New("boom")
	t.Run("manager stops the agent", func(t *testing.T) {
		var sawCancel bool
		p := &program{parent: t.Context(), exited: make(chan struct{}), fn: func(ctx context.Context) error {
			<-ctx.Done()
			sawCancel = true
			return nil
		}}
		err := p.run(func() error {
			if err := p.Start(nil); err != nil {
				return err
			}
			return p.Stop(nil)
		})
		if err != nil || !sawCancel {
			t.Fatalf("run = %v, cancelled %v; want nil, true", err, sawCancel)
		}
	})
	for _, tc := range []struct {
		name    string
		fnErr   error
		wantErr error
	}{
		{"agent fails", errBoom, errBoom},
		{"agent ends without error", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A dispatcher that never returns, as Windows' does until the
			// process exits: Run must not wait for it.
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			p := &program{parent: t.Context(), exited: make(chan struct{}), fn: func(context.Context) error { return tc.fnErr }}
			err := p.run(func() error {
				if err := p.Start(nil); err != nil {
					return err
				}
				<-release
				return nil
			})
			switch {
			case err == nil:
				t.Fatal("run = nil: the service manager would not restart the agent")
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("run = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestStatusString(t *testing.T) {
	for st, want := range map[Status]string{Running: "running", Stopped: "stopped", NotInstalled: "not installed"} {
		if st.String() != want {
			t.Errorf("%d: %q, want %q", st, st.String(), want)
		}
	}
}
