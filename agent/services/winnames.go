package services

// Windows service states and start types (winsvc.h), named as the list
// shows them. Kept free of build tags so they are tested on every system.
const (
	winStopped         = 1
	winStartPending    = 2
	winStopPending     = 3
	winRunning         = 4
	winContinuePending = 5
	winPausePending    = 6
	winPaused          = 7

	winBootStart   = 0
	winSystemStart = 1
	winAutoStart   = 2
	winDemandStart = 3
	winDisabled    = 4
)

// winState names a service state.
func winState(s uint32) string {
	switch s {
	case winStopped:
		return "stopped"
	case winStartPending:
		return "starting"
	case winStopPending:
		return "stopping"
	case winRunning:
		return "running"
	case winContinuePending:
		return "continuing"
	case winPausePending:
		return "pausing"
	case winPaused:
		return "paused"
	}
	return "unknown"
}

// winStart names a start type; delayed is the delayed automatic start flag.
func winStart(t uint32, delayed bool) string {
	switch t {
	case winBootStart:
		return "boot"
	case winSystemStart:
		return "system"
	case winAutoStart:
		if delayed {
			return "auto (delayed)"
		}
		return "auto"
	case winDemandStart:
		return "manual"
	case winDisabled:
		return "disabled"
	}
	return "unknown"
}

// winPlan is the steps of an action on a service in state, in order:
// "stop" (send the stop control and wait for stopped), "start" (start and
// wait for running). Stopping a stopped service or starting a running one
// does nothing, as systemd does.
func winPlan(action string, state uint32) []string {
	switch action {
	case "start":
		if state == winRunning {
			return nil
		}
		return []string{"start"}
	case "stop":
		if state == winStopped {
			return nil
		}
		return []string{"stop"}
	case "restart":
		if state == winStopped {
			return []string{"start"}
		}
		return []string{"stop", "start"}
	}
	return nil
}
