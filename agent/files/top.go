package files

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/peerdesk/peerdesk/wire"
)

// top maps cleaned wire paths to the os.Root that holds them.
type top interface {
	// resolve answers the root holding the cleaned path p and p inside
	// it ("." for the root itself).
	resolve(p string) (*os.Root, string, error)
	// drives lists the top when it is not a folder of its own (Windows'
	// drives); ok is false when "/" is a folder.
	drives() (list []wire.FileInfo, ok bool)
	close() error
}

// dirTop is a top that is one folder.
type dirTop struct{ root *os.Root }

func newDirTop(dir string) (*dirTop, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &dirTop{root: r}, nil
}

func (t *dirTop) resolve(p string) (*os.Root, string, error) {
	if p == "/" {
		return t.root, ".", nil
	}
	first, _, _ := strings.Cut(p[1:], "/")
	if err := wire.CheckFileName(first); err != nil { // a drive name is a name here
		return nil, "", err
	}
	return t.root, filepath.FromSlash(p[1:]), nil
}

func (t *dirTop) drives() ([]wire.FileInfo, bool) { return nil, false }

func (t *dirTop) close() error { return t.root.Close() }
