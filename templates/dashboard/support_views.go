package dashboard

import (
	"net/url"
	"time"

	"github.com/a-h/templ"
	"github.com/peerdesk/peerdesk/wire"
)

// SupportView is the Support tab: the forms to generate and to enter a
// code, and the live board.
type SupportView struct {
	Nav      Nav
	CSRF     string // the token the forms carry
	Assign   string // the generate form's choice: AssignMe or AssignTeam
	Expiries []TTLOption
	Created  *CreatedCode // the code just generated, shown big
	Code     string       // the code typed into "Enter a code", kept when refused
	Error    string       // why the last form was refused, if it was
	Events   string       // the URL of the board's live stream
	Version  string       // identifies the board's content, for the live stream
	Board    BoardView
}

// Assignment choices of the generate form.
const (
	AssignMe   = "me"
	AssignTeam = "team"
)

// CreatedCode is a support code just generated.
type CreatedCode struct {
	Code       string
	Team       bool      // first come for the whole team, else the technician's own
	Expires    time.Time // zero: until used or cancelled
	PortalLink string    // the portal address with the code, to send to the end user
}

// BoardView is the live part of the Support tab; the page renders it and
// the live stream sends it again whenever it changes.
type BoardView struct {
	CSRF     string // the token the row buttons carry
	Mine     []SessionRow
	Team     []SessionRow
	Pending  []PendingCode
	Requests []RequestRow
	Ended    []EndedRow
}

// Empty reports a board with nothing on it: a new shop's first hour.
func (b BoardView) Empty() bool {
	return len(b.Mine) == 0 && len(b.Team) == 0 && len(b.Pending) == 0 && len(b.Requests) == 0 && len(b.Ended) == 0
}

// SessionRow is an open support session.
type SessionRow struct {
	ID         string
	Code       string
	Hostname   string
	OS         string
	Technician string // "" until a technician claims it
	OneTime    bool
	OverlayIP  string
	Overlay    string // why the agent's overlay node is not up, as it reported (wire.OverlayReasons); "" if it did not
	Created    time.Time
	ConnectURL string // the technician's local viewer page; "" if they may not connect
	CanEnd     bool
}

// PendingCode is a technician's code waiting for its end user.
type PendingCode struct {
	Code      string
	Assignee  string // "" means the team (first come)
	Mine      bool
	Created   time.Time
	Expires   time.Time // zero: until used or cancelled
	CanCancel bool
}

// RequestRow is an end user asking for help with a code to read out.
type RequestRow struct {
	Code     string
	Hostname string
	Created  time.Time
	Expires  time.Time
}

// EndedRow is a recently ended session.
type EndedRow struct {
	Code       string
	Hostname   string
	Technician string
	Created    time.Time
	Ended      time.Time
}

// PortalView is the end-user portal's code form.
type PortalView struct {
	CSRF  string
	Code  string // prefilled or typed; digits only
	Error string
}

// PortalReadyView is the portal's answer to a good code: launch the
// installed agent, or download the one-time agent.
type PortalReadyView struct {
	Code      string
	AgentLink string // peerdesk://session/{code}
	Downloads []Download
	OS        string // the visitor's system: OSLinux, OSWindows, OSMac or ""
	Browser   string // BrowserChrome, BrowserEdge, BrowserFirefox, BrowserSafari or ""
	FileName  string // the name of the visitor's download
}

// Download is the one-time agent for one system.
type Download struct {
	Label    string // e.g. "Linux (x86-64)"
	URL      string
	FileName string
	Primary  bool // the visitor's system
}

// Systems and browsers the portal's instructions know.
const (
	OSLinux   = "linux"
	OSWindows = "windows"
	OSMac     = "mac"

	BrowserChrome  = "chrome"
	BrowserEdge    = "edge"
	BrowserFirefox = "firefox"
	BrowserSafari  = "safari"
)

// PortalMessageView explains why the portal cannot go on.
type PortalMessageView struct {
	Title   string
	Message string
}

// expiry describes when a code expires.
func expiry(t time.Time) string {
	if t.IsZero() {
		return "until used or cancelled"
	}
	return "until " + stamp(t)
}

// orUnclaimed names a session's technician.
func orUnclaimed(tech string) string {
	if tech == "" {
		return "unclaimed (team)"
	}
	return tech
}

// cancelURL is the form action that cancels a code.
func cancelURL(code string) templ.SafeURL {
	return templ.SafeURL("/support/desk/codes/" + url.PathEscape(code) + "/cancel")
}

// endURL is the form action that ends a session.
func endURL(id string) templ.SafeURL {
	return templ.SafeURL("/support/desk/sessions/" + url.PathEscape(id) + "/end")
}

// systemName names a system for people.
func systemName(os string) string {
	switch os {
	case OSWindows:
		return "Windows"
	case OSLinux:
		return "Linux"
	case OSMac:
		return "macOS"
	}
	return "your system"
}

// SupportFileName is the name of the one-time agent downloaded for code
// on a system.
func SupportFileName(code, os string) string {
	if os == OSWindows {
		return "peerdesk-support-" + code + ".exe"
	}
	return "peerdesk-support-" + code
}

// overlayDown says, for a technician, why a session's machine has no
// overlay address: the reason its agent reported (wire.OverlayReasons),
// or that the machine was never seen on the overlay.
func overlayDown(reason string) string {
	switch reason {
	case wire.OverlayNoNetwork:
		return "agent offline: the machine has no working network connection"
	case wire.OverlayUnreachable:
		return "agent offline: the machine cannot reach the coordinator"
	case wire.OverlayPinMismatch:
		return "agent offline: the coordinator's certificate does not match the agent's pin"
	case wire.OverlayClockSkew:
		return "agent offline: the machine's clock is wrong"
	case wire.OverlayConnecting:
		return "agent connecting to the overlay…"
	}
	return "not on the overlay: the machine's agent has not been seen there yet"
}
