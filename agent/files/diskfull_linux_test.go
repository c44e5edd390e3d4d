//go:build linux

package files

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/wire"
)

// TestDiskFull: the disk fills mid-upload (a 1 MiB tmpfs, mounted in the
// test's own mount namespace): the agent answers "the disk is full",
// removes the partial file and nothing appears under the final name; the
// same for a file of an archive.
func TestDiskFull(t *testing.T) {
	leak.Check(t)
	if !netns.Inside() {
		t.Fatal("this test mounts a tmpfs: it must run in the test's own namespace")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mounting a small tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Error(err)
		}
	})
	e := startIn(t, dir)
	data := random(t, 3<<20) // one chunk of 3 MiB on a 1 MiB disk
	_, err := e.upload("/big.bin", data, false)
	if we, ok := err.(*wire.Error); !ok || we.Code != wire.CodeDiskFull || we.Message != "the disk is full" {
		t.Fatalf("upload onto a full disk: %v, want %s", err, wire.CodeDiskFull)
	}
	if names := ls(t, dir); len(names) != 0 {
		t.Fatalf("left on the full disk: %v", names)
	}
	err = e.call(http.MethodPut, wire.PeerPathFilesExtract, url.Values{"path": {"/"}},
		bytes.NewReader(tarOf(t, entry{name: "small.txt", body: "fits"}, entry{name: "big.bin", body: string(data)})), nil, nil)
	if code(err) != wire.CodeDiskFull {
		t.Fatalf("extracting onto a full disk: %v", err)
	}
	if names := ls(t, dir); len(names) != 1 || names[0] != "small.txt" {
		t.Fatalf("after the archive the disk holds %v; want small.txt only", names)
	}
	if _, err := os.Stat(filepath.Join(dir, "big.bin")); !os.IsNotExist(err) {
		t.Fatalf("big.bin under its final name: %v", err)
	}
}
