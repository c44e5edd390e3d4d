// Package sessionhelper decides where and when the Windows agent's
// per-session helper runs, launches it there and connects it to the
// service (issue 15 item 2).
//
// # Why a helper
//
// The agent's Windows service runs in session 0, which has no desktop:
// it can capture no screen, inject no input and show nothing to the user.
// The service therefore starts a helper (the same binary, a hidden
// subcommand) in the session at the physical console and talks to it over
// a named pipe that admits only SYSTEM ([PipeName], [PipeSDDL]).
//
// # Decisions (pure, in this file)
//
//   - Where: [Choose] picks the console session (WTSGetActiveConsoleSessionId)
//     whatever its state: a logged-on user's desktop, a locked one, or the
//     logon screen with nobody logged on. Remote Desktop sessions are not
//     served: the console is what a technician supports. While Windows
//     switches the console between sessions (fast user switching) there is
//     none, and nothing runs until there is one again.
//   - As whom: the screen helper runs as SYSTEM in that session ([AsSystem]:
//     the service's token duplicated with TokenSessionId set), so that it can
//     follow the input desktop to the logon screen and UAC's secure
//     desktop, and connect to the pipe. What must run as the user (opening
//     the user's browser on the consent page) is a second launch,
//     [AsUser] (WTSQueryUserToken), only while a user is logged on there.
//   - When to (re)start: [Reconcile] compares what should run with what
//     runs after every session change (logon, logoff, console connect and
//     disconnect, lock, unlock) and every helper exit: a helper in another
//     session, or as another identity, is stopped and the right one
//     started; a helper that exited is restarted after [Backoff]'s delay
//     (1 s doubling to 1 min, back to 1 s once it has run for a minute).
//
// # Platform code
//
// Snapshot (WTS), Launch (CreateProcessAsUser) and the pipe are Windows
// only (*_windows.go); elsewhere they return errors.ErrUnsupported.
package sessionhelper

import (
	"errors"
	"slices"
	"time"
)

// NoSession is WTSGetActiveConsoleSessionId's answer while no session is
// attached to the console (during a switch between sessions).
const NoSession = 0xFFFFFFFF

// State is a session's connection state (WTS_CONNECTSTATE_CLASS).
type State uint32

// The connection states that matter here, with WTS's values.
const (
	Active       State = 0 // WTSActive: a user's desktop (locked or not)
	Connected    State = 1 // WTSConnected: at the console, nobody logged on (the logon screen)
	Disconnected State = 4 // WTSDisconnected: logged on, not at the console
	Listening    State = 6 // WTSListen: a listener (RDP), never a desktop
)

// Session is one session as the service sees it.
type Session struct {
	ID    uint32
	State State
	// User is the logged-on user ("DOMAIN\name"), "" for none.
	User string
}

// Snapshot is what the service knows of the machine's sessions at one
// moment: the console's session and every session.
type Snapshot struct {
	Console  uint32 // WTSGetActiveConsoleSessionId, NoSession during a switch
	Sessions []Session
}

// As is the identity a helper runs as.
type As uint8

const (
	// AsSystem: the service's own token (SYSTEM) with its session set to
	// the target: sees every desktop of that session, the logon screen
	// and UAC's secure desktop included, and may connect to the pipe.
	AsSystem As = iota + 1
	// AsUser: the logged-on user's token (WTSQueryUserToken): for what
	// must run as the user, such as opening the user's browser.
	AsUser
)

func (a As) String() string {
	switch a {
	case AsSystem:
		return "SYSTEM"
	case AsUser:
		return "user"
	}
	return "none"
}

// Role is what a helper does.
type Role uint8

const (
	// Screen captures the screen and injects input, as SYSTEM.
	Screen Role = iota + 1
	// UserUI opens the user's browser on the agent's local page, as the
	// user.
	UserUI
)

func (r Role) String() string {
	switch r {
	case Screen:
		return "screen"
	case UserUI:
		return "user-ui"
	}
	return "none"
}

// Want is a helper that should run: its role, session and identity.
type Want struct {
	Role    Role
	Session uint32
	As      As
	// User is the user an AsUser helper runs as ("" for AsSystem): a new
	// user logged on in the same session is another helper.
	User string
}

// Choose returns the helpers that should run for snap: the screen helper
// as SYSTEM in the console session, and the user's helper as that
// session's user when one is logged on. None while the console has no
// session (a switch), or when the console session is session 0 (services;
// never a desktop since Windows Vista) or is not listed (it ended between
// the two calls).
func Choose(snap Snapshot) []Want {
	if snap.Console == NoSession || snap.Console == 0 {
		return nil
	}
	i := slices.IndexFunc(snap.Sessions, func(s Session) bool { return s.ID == snap.Console })
	if i < 0 {
		return nil
	}
	s := snap.Sessions[i]
	if s.State == Listening {
		return nil
	}
	out := []Want{{Role: Screen, Session: s.ID, As: AsSystem}}
	if s.User != "" && s.State == Active {
		out = append(out, Want{Role: UserUI, Session: s.ID, As: AsUser, User: s.User})
	}
	return out
}

// Helper is a helper process the service started.
type Helper struct {
	Want
	PID     uint32
	Started time.Time
	// Exited is when it exited (zero while it runs).
	Exited time.Time
	// Delay is the restart delay [Backoff] gave when it exited.
	Delay time.Duration
}

// Running reports whether h still runs.
func (h Helper) Running() bool { return h.Exited.IsZero() }

// Backoff returns the delay before restarting a helper that ran for ran
// and whose previous restart waited prev (0 for the first exit): 1 s,
// doubling to at most 1 min; back to 1 s after a run of a minute or more,
// so that a helper that crashes at once does not spin and one that ran
// for a while comes back at once.
func Backoff(prev, ran time.Duration) time.Duration {
	const first, ceiling = time.Second, time.Minute
	if ran >= ceiling || prev <= 0 {
		return first
	}
	return min(prev*2, ceiling)
}

// Plan is what the service does now.
type Plan struct {
	// Stop lists the running helpers that must end: wrong session, wrong
	// identity, or no longer wanted.
	Stop []Helper
	// Start lists the helpers to start now.
	Start []Want
	// RetryAt is when to reconcile again for a helper waiting out its
	// restart delay (zero: nothing waits).
	RetryAt time.Time
}

// Reconcile compares the helpers that should run (from [Choose]) with the
// ones the service knows (running or exited, the latest per role) at now.
// A running helper that is still wanted is kept; one that is not is
// stopped, and its replacement started at once (a session switch is not a
// crash). An exited helper that is still wanted is started again once its
// restart delay has passed since its exit; RetryAt says when.
func Reconcile(want []Want, known []Helper, now time.Time) Plan {
	var p Plan
	for _, h := range known {
		if h.Running() && !slices.Contains(want, h.Want) {
			p.Stop = append(p.Stop, h)
		}
	}
	for _, w := range want {
		i := slices.IndexFunc(known, func(h Helper) bool { return h.Role == w.Role })
		if i < 0 {
			p.Start = append(p.Start, w)
			continue
		}
		h := known[i]
		switch {
		case h.Running() && h.Want == w:
			// Keep it.
		case h.Running():
			p.Start = append(p.Start, w) // replaces the one stopped above
		case h.Want != w:
			p.Start = append(p.Start, w) // exited, and the target moved: no crash loop to slow
		case !now.Before(h.Exited.Add(h.Delay)):
			p.Start = append(p.Start, w)
		default:
			at := h.Exited.Add(h.Delay)
			if p.RetryAt.IsZero() || at.Before(p.RetryAt) {
				p.RetryAt = at
			}
		}
	}
	return p
}

// ErrNobodyAtConsole is returned by [UserAtConsole] when no user is
// logged on at the console (the logon screen, a switch in progress).
var ErrNobodyAtConsole = errors.New("nobody is logged on at the console")

// UserAtConsole returns the launch, as the logged-on user, for something
// the service shows that user (the consent page in their browser): the
// user helper [Choose] wants for snap.
func UserAtConsole(snap Snapshot) (Want, error) {
	for _, w := range Choose(snap) {
		if w.Role == UserUI {
			return w, nil
		}
	}
	return Want{}, ErrNobodyAtConsole
}
