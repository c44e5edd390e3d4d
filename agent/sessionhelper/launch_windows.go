//go:build windows

package sessionhelper

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	kernel32                         = windows.NewLazySystemDLL("kernel32.dll")
	procWTSGetActiveConsoleSessionId = kernel32.NewProc("WTSGetActiveConsoleSessionId")
)

// Sessions returns the machine's sessions now (WTSGetActiveConsoleSessionId,
// WTSEnumerateSessionsW and each session's user name), for [Choose].
func Sessions() (Snapshot, error) {
	console, _, _ := procWTSGetActiveConsoleSessionId.Call() // no error to report: NoSession is its failure
	snap := Snapshot{Console: uint32(console)}
	var list *windows.WTS_SESSION_INFO
	var n uint32
	if err := windows.WTSEnumerateSessions(0, 0, 1, &list, &n); err != nil {
		return Snapshot{}, fmt.Errorf("sessionhelper.Sessions: %w", err)
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(list)))
	for _, s := range unsafe.Slice(list, n) {
		user, err := sessionUser(s.SessionID)
		if err != nil {
			return Snapshot{}, fmt.Errorf("sessionhelper.Sessions: session %d: %w", s.SessionID, err)
		}
		snap.Sessions = append(snap.Sessions, Session{ID: s.SessionID, State: State(s.State), User: user})
	}
	return snap, nil
}

var (
	wtsapi32                        = windows.NewLazySystemDLL("wtsapi32.dll")
	procWTSQuerySessionInformationW = wtsapi32.NewProc("WTSQuerySessionInformationW")
)

// WTS_INFO_CLASS values.
const (
	wtsUserName   = 5
	wtsDomainName = 7
)

// sessionUser is the session's user as DOMAIN\name, "" for none.
func sessionUser(id uint32) (string, error) {
	name, err := sessionString(id, wtsUserName)
	if err != nil || name == "" {
		return "", err
	}
	domain, err := sessionString(id, wtsDomainName)
	if err != nil {
		return "", err
	}
	if domain == "" {
		return name, nil
	}
	return domain + `\` + name, nil
}

func sessionString(id uint32, class uintptr) (string, error) {
	var buf *uint16
	var n uint32
	r, _, err := procWTSQuerySessionInformationW.Call(0, uintptr(id), class, uintptr(unsafe.Pointer(&buf)), uintptr(unsafe.Pointer(&n)))
	if r == 0 {
		return "", fmt.Errorf("WTSQuerySessionInformation: %w", err)
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(buf)))
	return windows.UTF16PtrToString(buf), nil
}

// Process is a launched helper.
type Process struct {
	PID    uint32
	handle windows.Handle
}

// Wait waits for the helper to exit and returns its exit code.
func (p *Process) Wait() (uint32, error) {
	if _, err := windows.WaitForSingleObject(p.handle, windows.INFINITE); err != nil {
		return 0, fmt.Errorf("sessionhelper: waiting for %d: %w", p.PID, err)
	}
	var code uint32
	if err := windows.GetExitCodeProcess(p.handle, &code); err != nil {
		return 0, fmt.Errorf("sessionhelper: exit code of %d: %w", p.PID, err)
	}
	return code, nil
}

// Kill ends the helper.
func (p *Process) Kill() error { return windows.TerminateProcess(p.handle, 1) }

// Close releases the process handle.
func (p *Process) Close() error { return windows.CloseHandle(p.handle) }

// Launch starts exe with args as w says: in session w.Session, as SYSTEM
// (the service's token duplicated, its TokenSessionId set to the session;
// setting it takes SeTcbPrivilege, which SYSTEM holds) or as the session's
// user (WTSQueryUserToken, SYSTEM only too), on the session's interactive
// desktop (winsta0\default), with the user's environment for AsUser. The
// helper inherits no handles.
func Launch(w Want, exe string, args ...string) (*Process, error) {
	tok, err := launchToken(w)
	if err != nil {
		return nil, fmt.Errorf("sessionhelper.Launch %s in session %d as %s: %w", w.Role, w.Session, w.As, err)
	}
	defer tok.Close() //nolint:errcheck // the child holds its own copy
	var env *uint16
	flags := uint32(windows.CREATE_UNICODE_ENVIRONMENT | windows.CREATE_NO_WINDOW)
	if w.As == AsUser {
		if err := windows.CreateEnvironmentBlock(&env, tok, false); err != nil {
			return nil, fmt.Errorf("sessionhelper.Launch: the user's environment: %w", err)
		}
		defer windows.DestroyEnvironmentBlock(env) //nolint:errcheck // freed after the child copied it
	}
	cmd := windows.ComposeCommandLine(append([]string{exe}, args...))
	cmdp, err := windows.UTF16PtrFromString(cmd)
	if err != nil {
		return nil, fmt.Errorf("sessionhelper.Launch: %w", err)
	}
	desk, err := windows.UTF16PtrFromString(`winsta0\default`)
	if err != nil {
		return nil, err
	}
	si := windows.StartupInfo{Cb: uint32(unsafe.Sizeof(windows.StartupInfo{})), Desktop: desk}
	var pi windows.ProcessInformation
	if err := windows.CreateProcessAsUser(tok, nil, cmdp, nil, nil, false, flags, env, nil, &si, &pi); err != nil {
		return nil, fmt.Errorf("sessionhelper.Launch %s in session %d as %s: CreateProcessAsUser: %w", w.Role, w.Session, w.As, err)
	}
	windows.CloseHandle(pi.Thread) //nolint:errcheck // only the process handle is kept
	return &Process{PID: pi.ProcessId, handle: pi.Process}, nil
}

// launchToken is the primary token the helper runs with.
func launchToken(w Want) (windows.Token, error) {
	switch w.As {
	case AsUser:
		var tok windows.Token
		if err := windows.WTSQueryUserToken(w.Session, &tok); err != nil {
			return 0, fmt.Errorf("WTSQueryUserToken: %w", err)
		}
		return tok, nil
	case AsSystem:
		var self windows.Token
		if err := windows.OpenProcessToken(windows.CurrentProcess(), windows.TOKEN_DUPLICATE|windows.TOKEN_QUERY, &self); err != nil {
			return 0, fmt.Errorf("OpenProcessToken: %w", err)
		}
		defer self.Close() //nolint:errcheck // the duplicate is what is used
		var dup windows.Token
		if err := windows.DuplicateTokenEx(self, windows.MAXIMUM_ALLOWED, nil, windows.SecurityImpersonation, windows.TokenPrimary, &dup); err != nil {
			return 0, fmt.Errorf("DuplicateTokenEx: %w", err)
		}
		sid := w.Session
		if err := windows.SetTokenInformation(dup, windows.TokenSessionId, (*byte)(unsafe.Pointer(&sid)), uint32(unsafe.Sizeof(sid))); err != nil {
			dup.Close() //nolint:errcheck // failing anyway
			return 0, fmt.Errorf("SetTokenInformation(TokenSessionId %d): %w", sid, err)
		}
		return dup, nil
	}
	return 0, errors.New("no identity to run as")
}

// SessionOf returns the session process pid runs in.
func SessionOf(pid uint32) (uint32, error) {
	var s uint32
	if err := windows.ProcessIdToSessionId(pid, &s); err != nil {
		return 0, fmt.Errorf("sessionhelper.SessionOf %d: %w", pid, err)
	}
	return s, nil
}
