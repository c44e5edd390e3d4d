//go:build !windows

package files

import (
	"errors"
	"os"
	"syscall"
)

// isDiskFull reports a write that failed for want of space (or quota).
func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, errDiskFull)
}

// syncDir syncs the folder dir of root, so a rename in it survives a
// power cut.
func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
