package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/agent"
	"github.com/peerdesk/peerdesk/harness"
)

// TestFolderTransfer (issue 13 item 2, folders as a streamed archive): a
// local folder sent to a machine (viewer.PutFolder, what `peerdesk-viewer
// files put` does with a folder) arrives whole inside the target folder,
// and fetched back (GetFolder, `files get` of a path ending in /) it is the
// same; a symbolic link is left out both ways and reported, never followed
// or made.
func TestFolderTransfer(t *testing.T) {
	harness.Begin(t)
	c := harness.StartCoordinator(t)
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	a := c.EnrollAgent(t, "folders-pc", func(cfg *agent.Config) { cfg.FilesRoot, cfg.Unattended = root, true })
	alice := c.LoginViewer(t, c.AddTechnician(t, "alice"))

	local := filepath.Join(t.TempDir(), "logs")
	want := map[string]string{"a.log": "first\n", "sub/b.log": strings.Repeat("b", 300_000), "sub/deeper/c.txt": "c"}
	for name, body := range want {
		p := filepath.Join(local, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(local, "link")); err != nil {
		t.Fatal(err)
	}

	f, err := alice.Files(ctx(t), a.DeviceID())
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.PutFolder(ctx(t), local, "/in")
	if err != nil {
		t.Fatalf("put the folder: %v", err)
	}
	if res.Files != len(want) || !slices.Equal(res.Skipped, []string{"link"}) {
		t.Errorf("put: %d files, skipped %v; want %d files, the link skipped", res.Files, res.Skipped, len(want))
	}
	same := func(dir string) {
		t.Helper()
		for name, body := range want {
			got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
			if err != nil || string(got) != body {
				t.Errorf("%s in %s: %d bytes, %v; want %d bytes", name, dir, len(got), err, len(body))
			}
		}
		if _, err := os.Lstat(filepath.Join(dir, "link")); !os.IsNotExist(err) {
			t.Errorf("the link was made in %s (%v)", dir, err)
		}
	}
	same(filepath.Join(root, "in", "logs"))

	// On the machine, a link that points out of the folder: fetched back,
	// it is left out.
	if err := os.Symlink("/etc/passwd", filepath.Join(root, "in", "logs", "outside")); err != nil {
		t.Fatal(err)
	}
	back := t.TempDir()
	res, err = f.GetFolder(ctx(t), "/in/logs", back)
	if err != nil {
		t.Fatalf("get the folder: %v", err)
	}
	if res.Files != len(want) || !slices.Equal(res.Skipped, []string{"logs/outside"}) {
		t.Errorf("get: %d files, skipped %v; want %d files, logs/outside skipped", res.Files, res.Skipped, len(want))
	}
	same(filepath.Join(back, "logs"))
	if _, err := os.Lstat(filepath.Join(back, "logs", "outside")); !os.IsNotExist(err) {
		t.Errorf("the machine's link was made locally (%v)", err)
	}
}
