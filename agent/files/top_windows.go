package files

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/windows"

	"github.com/peerdesk/peerdesk/wire"
)

// openTop opens dir, or for "" the machine's drives: "/" lists them and
// "/C:/…" lies on drive C.
func openTop(dir string) (top, error) {
	if dir != "" {
		return newDirTop(dir)
	}
	return &driveTop{roots: map[byte]*os.Root{}}, nil
}

// driveTop is the machine's drives, each an os.Root opened on first use.
type driveTop struct {
	mu    sync.Mutex
	roots map[byte]*os.Root
}

func (t *driveTop) resolve(p string) (*os.Root, string, error) {
	if p == "/" {
		return nil, "", errTop
	}
	first, rest, _ := strings.Cut(p[1:], "/")
	if !wire.IsDriveName(first) {
		return nil, "", fmt.Errorf("%w: %q does not start with a drive (\"/C:/…\")", wire.ErrFilePath, p)
	}
	letter := strings.ToUpper(first)[0]
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.roots[letter]
	if r == nil {
		var err error
		if r, err = os.OpenRoot(string(letter) + `:\`); err != nil {
			return nil, "", err
		}
		t.roots[letter] = r
	}
	if rest == "" {
		return r, ".", nil
	}
	return r, filepath.FromSlash(rest), nil
}

// drives lists the drives GetLogicalDrives reports.
func (t *driveTop) drives() ([]wire.FileInfo, bool) {
	mask, err := windows.GetLogicalDrives()
	if err != nil {
		return []wire.FileInfo{}, true
	}
	var out []wire.FileInfo
	for i := range 26 {
		if mask&(1<<i) != 0 {
			out = append(out, wire.FileInfo{Name: string(rune('A'+i)) + ":", IsDir: true, Mode: "d---------"})
		}
	}
	return out, true
}

func (t *driveTop) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for _, r := range t.roots {
		errs = append(errs, r.Close())
	}
	t.roots = map[byte]*os.Root{}
	return errors.Join(errs...)
}
