//go:build unix

package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

func protect(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// MkdirAll leaves an existing directory as it was: tighten it. A
	// directory another user owns stays refused by check (chmod would
	// succeed for root, but whoever owns it can undo it).
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	// A state file written by hand or by an older version: 0600 too.
	if fi, err := os.Lstat(filepath.Join(dir, fileName)); err == nil && fi.Mode().IsRegular() {
		if err := os.Chmod(filepath.Join(dir, fileName), 0o600); err != nil {
			return err
		}
	}
	return check(dir)
}

func check(dir string) error {
	if err := private(dir, true); err != nil {
		return err
	}
	err := private(filepath.Join(dir, fileName), false)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// private checks that path is owned by the running user and closed to its
// group and the world.
func private(path string, isDir bool) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if isDir && fi.Mode()&os.ModeSymlink != 0 {
		// The agent's own directory may be reached through a link (a
		// mount point elsewhere); the directory itself is what counts.
		if fi, err = os.Stat(path); err != nil {
			return err
		}
	}
	if isDir != fi.IsDir() || (!isDir && !fi.Mode().IsRegular()) {
		return fmt.Errorf("%w: %s is not a regular %s", ErrNotPrivate, path, map[bool]string{true: "directory", false: "file"}[isDir])
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%w: %s: no owner information", ErrNotPrivate, path)
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return fmt.Errorf("%w: %s is owned by uid %d, not by the user running the agent (uid %d); enroll and run the agent as the same user", ErrNotPrivate, path, st.Uid, uid)
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o, which lets other users in; run chmod go-rwx %s", ErrNotPrivate, path, m, path)
	}
	return nil
}
