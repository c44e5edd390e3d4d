//go:build linux

package netns

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { Main(m) }

// TestPrivateX11: inside, the X11 socket directory is a mount of its own
// (an empty tmpfs), not the machine's, and it takes sockets.
func TestPrivateX11(t *testing.T) {
	if !Inside() {
		t.Fatal("not inside the namespace Main makes")
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(x11Dir, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type != unix.TMPFS_MAGIC {
		t.Fatalf("%s is on a filesystem of type %#x, not a private tmpfs", x11Dir, fs.Type)
	}
	var dir, tmp unix.Stat_t
	if err := unix.Stat(x11Dir, &dir); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat("/tmp", &tmp); err != nil {
		t.Fatal(err)
	}
	if dir.Dev == tmp.Dev {
		t.Fatalf("%s is on /tmp's device: not a mount of its own", x11Dir)
	}
	if fi, err := os.Stat(x11Dir); err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Fatalf("%s: %v %v, want drwxrwxrwt", x11Dir, fi.Mode(), err)
	}
}
