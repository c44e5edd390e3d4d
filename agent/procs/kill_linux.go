package procs

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/shirou/gopsutil/v4/process"
	"golang.org/x/sys/unix"
)

// kill opens a pidfd for pid, checks that the process it names started at
// started, calls audit with its name, and signals it through the pidfd.
func kill(ctx context.Context, pid int32, started int64, force bool, audit func(name string) error) error {
	fd, err := unix.PidfdOpen(int(pid), 0)
	switch {
	case errors.Is(err, unix.ESRCH):
		return ErrGone
	case err != nil:
		return fmt.Errorf("procs: pidfd_open: %w", err)
	}
	defer unix.Close(fd)
	p, err := process.NewProcessWithContext(ctx, pid)
	if err != nil {
		return ErrGone
	}
	got, err := p.CreateTimeWithContext(ctx)
	if err != nil {
		return ErrGone
	}
	if !sameStart(got, started) {
		return ErrReused
	}
	name, _ := p.NameWithContext(ctx) //nolint:errcheck // the name is for the record; an ended process fails the signal below
	if err := audit(name); err != nil {
		return err
	}
	sig := unix.SIGTERM
	if force {
		sig = unix.SIGKILL
	}
	switch err := unix.PidfdSendSignal(fd, sig, nil, 0); {
	case errors.Is(err, unix.ESRCH):
		return ErrGone
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("procs: %w", os.ErrPermission)
	case err != nil:
		return fmt.Errorf("procs: pidfd_send_signal: %w", err)
	}
	return nil
}
