package remedy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/policy"
)

// TestPlans: each remediation's plan is built from its name only, shown
// as exactly what Run runs, and run through the injected runner (nothing
// on this machine is touched).
func TestPlans(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("the command lines checked are Linux's")
	}
	want := map[string]string{
		"flush_dns":       "resolvectl flush-caches",
		"restart_spooler": "systemctl restart cups.service",
		"renew_dhcp":      "networkctl renew --all",
	}
	for name, cmd := range want {
		p, err := Env{}.Plan(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Show() != cmd {
			t.Errorf("%s shows %q, want %q", name, p.Show(), cmd)
		}
		var ran []string
		out, err := Run(context.Background(), p, func(_ context.Context, argv []string) ([]byte, error) {
			ran = append(ran, strings.Join(argv, " "))
			return []byte("ok"), nil
		})
		if err != nil || out != "ok" || strings.Join(ran, "\n") != p.Show() {
			t.Errorf("%s ran %q (%q, %v), showed %q", name, ran, out, err, p.Show())
		}
	}
	p, _ := Env{}.Plan("flush_dns")
	if _, err := Run(context.Background(), p, func(context.Context, []string) ([]byte, error) { return []byte("denied"), errors.New("exit status 1") }); err == nil {
		t.Error("a failed command reported success")
	}
}

// TestRefused: names outside the whitelist build no plan and run nothing,
// and a plan renamed after it was built is refused at Run.
func TestRefused(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"run_shell", "cpu", "clear_temp; rm -rf /", ""} {
		if _, err := (Env{}).Plan(name); !errors.Is(err, policy.ErrToolRefused) {
			t.Errorf("Plan(%q): %v, want a refusal", name, err)
		}
	}
	ran := false
	_, err := Run(context.Background(), Plan{Name: "format_disk", Steps: []Step{{Argv: []string{"mkfs", "/dev/sda"}}}}, func(context.Context, []string) ([]byte, error) { ran = true; return nil, nil })
	if !errors.Is(err, policy.ErrToolRefused) || ran {
		t.Errorf("Run of a plan outside the table: %v, ran %v", err, ran)
	}
}

// TestClearTemp empties a directory the test made, for real.
func TestClearTemp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"a.tmp", "b.tmp", "sub/c.tmp"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p, err := Env{TempDir: dir}.Plan("clear_temp")
	if err != nil {
		t.Fatal(err)
	}
	if p.Show() != "delete the files and folders inside "+dir {
		t.Errorf("shows %q", p.Show())
	}
	out, err := Run(context.Background(), p, func(context.Context, []string) ([]byte, error) {
		t.Error("clear_temp ran a command")
		return nil, nil
	})
	if err != nil || !strings.Contains(out, "removed 3 entries") {
		t.Fatalf("%q, %v", out, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left %v", ents)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("the directory itself: %v", err)
	}
}
