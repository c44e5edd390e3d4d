package files

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// isDiskFull reports a write that failed for want of space (or quota).
func isDiskFull(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL) ||
		errors.Is(err, windows.ERROR_DISK_QUOTA_EXCEEDED) || errors.Is(err, errDiskFull)
}

// syncDir: Windows cannot open a folder for FlushFileBuffers through
// os.Root; NTFS journals the rename's metadata itself, so there is
// nothing further to sync. It does nothing and says so here, not to
// its caller, which needs no answer but an error.
func syncDir(*os.Root, string) error { return nil }
