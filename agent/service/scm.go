package service

import "strings"

// startedBySCM decides whether a Windows process runs as a service: it does
// when x/sys's svc.IsWindowsService says so (its parent is services.exe in
// session 0) or when its parent's image is services.exe in any session.
//
// The second case is Wine: its services.exe, and every service it starts,
// run in session 1 (probe: NtQuerySystemInformation lists services.exe and
// its services with SessionId 1), so IsWindowsService, and with it the
// service library's Interactive, says "no" to a real service; the agent
// then never answered the manager, which reported "Service request
// timeout" (ERROR_SERVICE_REQUEST_TIMEOUT) to `peerdesk-agent start`. On
// Windows only the service manager starts processes as services.exe's
// children, and a process that is not a service fails at once in
// StartServiceCtrlDispatcher (ERROR_FAILED_SERVICE_CONTROLLER_CONNECT), so
// the wider test changes nothing there.
func startedBySCM(isWindowsService bool, parentImage string) bool {
	if isWindowsService {
		return true
	}
	base := parentImage
	if i := strings.LastIndexAny(base, `\/`); i >= 0 {
		base = base[i+1:]
	}
	return parentImage != "" && strings.EqualFold(base, "services.exe")
}
