package shot

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestDisplayOwner(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the socket to another user")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "X42")
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(sock, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(sock, &st); err != nil || st.Uid != 65534 {
		t.Fatal(err)
	}
	for _, c := range []struct{ display, want string }{
		{":42", "nobody"}, {":42.0", "nobody"}, {"unix:42", "nobody"},
		{":43", ""}, {"otherhost:42", ""}, {"", ""}, {":x", ""},
	} {
		if got := displayOwner(c.display, dir); got != c.want {
			t.Errorf("displayOwner(%q) = %q, want %q", c.display, got, c.want)
		}
	}
}
