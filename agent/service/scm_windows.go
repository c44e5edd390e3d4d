//go:build windows

package service

import (
	"errors"
	"fmt"
	"unsafe"

	ksvc "github.com/kardianos/service"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// underManager reports whether the service manager started this process;
// see [startedBySCM].
func underManager() bool {
	is, err := svc.IsWindowsService()
	if err != nil {
		is = false // then the parent's image decides
	}
	parent, err := parentImage()
	if err != nil {
		parent = "" // no parent to name: decided by IsWindowsService alone
	}
	return startedBySCM(is, parent)
}

// parentImage is the image name of this process's parent ("services.exe"),
// from a process snapshot.
func parentImage() (string, error) {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return "", fmt.Errorf("process snapshot: %w", err)
	}
	defer windows.CloseHandle(snap) //nolint:errcheck // closing a snapshot handle; nothing to undo
	self := windows.GetCurrentProcessId()
	names := map[uint32]string{}
	var parent uint32
	found := false
	e := windows.ProcessEntry32{Size: uint32(unsafe.Sizeof(windows.ProcessEntry32{}))}
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		names[e.ProcessID] = windows.UTF16ToString(e.ExeFile[:])
		if e.ProcessID == self {
			parent, found = e.ParentProcessID, true
		}
	}
	if !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return "", fmt.Errorf("process snapshot: %w", err)
	}
	if !found {
		return "", errors.New("this process is not in the snapshot")
	}
	return names[parent], nil
}

// serve returns the loop that answers the service manager for p: our
// handler, whether or not the library knows it runs as a service (under
// Wine it does not; see [startedBySCM]).
func serve(p *program, _ *ksvc.Config) (func() error, error) {
	p.reports = true
	return func() error { return svc.Run(Name, handler{p}) }, nil
}

// afterInstall makes the manager's recovery action (restart after
// RestartDelay) apply when the agent ends on its own and says so
// (SERVICE_STOPPED with an error, which handler reports), not only when
// its process dies.
func afterInstall(name string) error {
	m, err := mgr.Connect()
	if err != nil {
		return err
	}
	defer m.Disconnect() //nolint:errcheck // closing a handle; the change is made
	s, err := m.OpenService(name)
	if err != nil {
		return err
	}
	defer s.Close() //nolint:errcheck // as above
	err = s.SetRecoveryActionsOnNonCrashFailures(true)
	if errors.Is(err, windows.ERROR_INVALID_LEVEL) {
		// Wine 8.0's manager has no such setting; Windows has had it
		// since Vista. Probe: e2e.TestWindowsService.
		return nil
	}
	if err != nil {
		return fmt.Errorf("recovery on failures that are not crashes: %w", err)
	}
	return nil
}

// handler is the library's windowsService.Execute for p (start, answer
// interrogations, stop on a stop or shutdown request), which also tells
// the manager when the agent ended on its own: SERVICE_STOPPED with
// ERROR_SERVICE_SPECIFIC_ERROR 1, so the recovery action restarts it.
// Wine's manager does not notice a service process that exits without
// saying so: it kept reporting RUNNING, and refused stop and uninstall.
type handler struct{ p *program }

func (h handler) Execute(_ []string, r <-chan svc.ChangeRequest, changes chan<- svc.Status) (bool, uint32) {
	const accepted = svc.AcceptStop | svc.AcceptShutdown
	changes <- svc.Status{State: svc.StartPending}
	if err := h.p.Start(nil); err != nil {
		h.p.fail(err)
		return true, 1
	}
	changes <- svc.Status{State: svc.Running, Accepts: accepted}
	for {
		select {
		case <-h.p.exited:
			return true, 1
		case c := <-r:
			switch c.Cmd {
			case svc.Interrogate:
				changes <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				changes <- svc.Status{State: svc.StopPending}
				if err := h.p.Stop(nil); err != nil {
					h.p.fail(err)
					return true, 2
				}
				return false, 0
			}
		}
	}
}
