package procs

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/shirou/gopsutil/v4/process"
	"golang.org/x/sys/windows"
)

// kill opens the process by id, checks its creation time on that very
// handle, calls audit with its name and terminates it through the handle:
// a handle names one process, never a later one with the same id.
func kill(ctx context.Context, pid int32, started int64, _ bool, audit func(name string) error) error {
	h, err := windows.OpenProcess(windows.PROCESS_TERMINATE|windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	switch {
	case errors.Is(err, windows.ERROR_INVALID_PARAMETER):
		return ErrGone
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		return fmt.Errorf("procs: %w", os.ErrPermission)
	case err != nil:
		return fmt.Errorf("procs: OpenProcess: %w", err)
	}
	defer windows.CloseHandle(h)
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		return fmt.Errorf("procs: GetProcessTimes: %w", err)
	}
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err == nil && code != stillActive {
		return ErrGone
	}
	// gopsutil reports Windows start times as the creation FILETIME in
	// milliseconds since the Unix epoch, as here.
	if !sameStart(created.Nanoseconds()/1e6, started) {
		return ErrReused
	}
	name := ""
	if p, err := process.NewProcessWithContext(ctx, pid); err == nil {
		name, _ = p.NameWithContext(ctx) //nolint:errcheck // the name is for the record only
	}
	if err := audit(name); err != nil {
		return err
	}
	if err := windows.TerminateProcess(h, 1); err != nil {
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
			return fmt.Errorf("procs: %w", os.ErrPermission)
		}
		return fmt.Errorf("procs: TerminateProcess: %w", err)
	}
	return nil
}

const stillActive = 259 // STILL_ACTIVE
