//go:build unix

package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// H2 (Linux, macOS): an agent refuses to start (Load) on a state directory
// or state file other users can reach, and on one another user owns; Save
// (enroll) makes the directory private again.
func TestH2RefusesStateOthersCanReach(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		harm func(t *testing.T, dir string)
		says string
	}{
		{"directory readable by its group", func(t *testing.T, dir string) { chmod(t, dir, 0o750) }, "mode 0750"},
		{"directory open to the world", func(t *testing.T, dir string) { chmod(t, dir, 0o755) }, "mode 0755"},
		{"state file readable by all", func(t *testing.T, dir string) { chmod(t, filepath.Join(dir, fileName), 0o644) }, "mode 0644"},
		{"directory owned by another user", func(t *testing.T, dir string) { chown(t, dir) }, "is owned by uid"},
		{"state file owned by another user", func(t *testing.T, dir string) { chown(t, filepath.Join(dir, fileName)) }, "is owned by uid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "agent")
			if err := Save(dir, enrolled(t)); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(dir); err != nil {
				t.Fatalf("Load of a private state: %v", err)
			}
			tc.harm(t, dir)
			_, err := Load(dir)
			if !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Load = %v, want ErrNotPrivate saying %q", err, tc.says)
			}
			if err := Check(dir); !errors.Is(err, ErrNotPrivate) {
				t.Fatalf("Check = %v, want ErrNotPrivate", err)
			}
		})
	}
}

// Save (enroll) tightens a directory that already existed with a loose mode,
// and a state file left readable.
func TestH2SaveMakesStatePrivate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "agent")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	chmod(t, dir, 0o755) // whatever the umask
	if err := os.WriteFile(filepath.Join(dir, fileName), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	chmod(t, filepath.Join(dir, fileName), 0o644)
	if err := Save(dir, enrolled(t)); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, fileName): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != want {
			t.Errorf("%s: mode %04o after Save, want %04o", path, m, want)
		}
	}
	if _, err := Load(dir); err != nil {
		t.Fatalf("Load after Save: %v", err)
	}
	if err := Protect(dir); err != nil {
		t.Fatalf("Protect of a private directory: %v", err)
	}
}

// Protect refuses a directory another user owns rather than adopting it.
func TestH2ProtectRefusesForeignDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "agent")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	chown(t, dir)
	if err := Protect(dir); !errors.Is(err, ErrNotPrivate) {
		t.Fatalf("Protect(another user's directory) = %v, want ErrNotPrivate", err)
	}
	if err := Save(dir, enrolled(t)); !errors.Is(err, ErrNotPrivate) {
		t.Fatalf("Save(another user's directory) = %v, want ErrNotPrivate", err)
	}
}

// chown gives path to another user (nobody). Only root can; the owner
// check cannot be shown otherwise.
func chown(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
}
