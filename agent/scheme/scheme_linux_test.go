package scheme

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// helpers records the helper programs Register runs.
type helpers struct {
	calls []string
	err   error
}

func (h *helpers) run(_ context.Context, name string, args ...string) error {
	h.calls = append(h.calls, strings.Join(append([]string{name}, args...), " "))
	return h.err
}

func TestRegisterPerUser(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_DATA_HOME", "")
	var h helpers
	path, err := Register(context.Background(), Config{Exe: "/opt/peer desk/peerdesk-agent", Run: h.run})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, ".local", "share", "applications", "peerdesk-agent.desktop"); path != want {
		t.Errorf("registered at %s, want %s", path, want)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `[Desktop Entry]
Type=Application
Name=peerdesk agent
Comment=Opens peerdesk support links with the installed agent
Exec="/opt/peer desk/peerdesk-agent" %u
Terminal=false
NoDisplay=true
MimeType=x-scheme-handler/peerdesk;
`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("desktop entry (-want +got):\n%s", diff)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	if diff := cmp.Diff([]string{"xdg-mime default peerdesk-agent.desktop x-scheme-handler/peerdesk"}, h.calls); diff != "" {
		t.Errorf("helpers run (-want +got):\n%s", diff)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("applications holds %d files, want only the entry (no temporary left)", len(entries))
	}

	// Again, with another path: replaced, not duplicated.
	if _, err := Register(context.Background(), Config{Exe: "/usr/bin/peerdesk-agent", Run: h.run}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "Exec=\"/usr/bin/peerdesk-agent\" %u\n") {
		t.Errorf("re-registering did not replace the entry:\n%s", b)
	}

	if err := Unregister(context.Background(), Config{Run: h.run}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Unregister: %v", err)
	}
	if err := Unregister(context.Background(), Config{Run: h.run}); err != nil {
		t.Errorf("Unregister with nothing registered: %v", err)
	}
}

func TestRegisterXDGDataHome(t *testing.T) {
	data := t.TempDir()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_DATA_HOME", data)
	var h helpers
	path, err := Register(context.Background(), Config{Exe: "/usr/bin/peerdesk-agent", Run: h.run})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(data, "applications", DesktopFile); path != want {
		t.Errorf("registered at %s, want %s", path, want)
	}
}

func TestRegisterHelperFails(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_DATA_HOME", "")
	h := helpers{err: errors.New("xdg-mime: no desktop")}
	path, err := Register(context.Background(), Config{Exe: "/usr/bin/peerdesk-agent", Run: h.run})
	if err == nil || !strings.Contains(err.Error(), "no desktop") {
		t.Errorf("Register = %v, want the helper's error", err)
	}
	if _, serr := os.Stat(path); serr != nil {
		t.Errorf("the entry should stay written when only the helper fails: %v", serr)
	}
}

func TestRegisterRefusesBadPath(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_DATA_HOME", "")
	var h helpers
	_, err := Register(context.Background(), Config{Exe: "/opt/agent\nExec=/bin/sh", Run: h.run})
	if !errors.Is(err, ErrBadExe) {
		t.Errorf("Register = %v, want ErrBadExe", err)
	}
	if len(h.calls) != 0 {
		t.Errorf("helpers run for a refused path: %q", h.calls)
	}
}

func TestSystemDir(t *testing.T) {
	t.Parallel()
	dir, err := Config{System: true}.applicationsDir()
	if err != nil || dir != "/usr/share/applications" {
		t.Errorf("system-wide entries go to %q (%v), want /usr/share/applications", dir, err)
	}
}
