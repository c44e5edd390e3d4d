// Package viewerui holds the templ components of the technician's local
// session page, served by the viewer on 127.0.0.1: the list of sessions and
// machines, and the page that shows a remote screen with its controls (W2).
package viewerui

import "time"

// Home lists what the technician can connect to.
type Home struct {
	User     string
	Sessions []Session
	Devices  []Device
	Error    string
	CSRF     string
}

// Session is one open support session.
type Session struct {
	ID, Code, Device, Hostname, OS, Technician string
	OneTime                                    bool
	Created                                    time.Time
	Mine                                       bool
}

// Device is one enrolled machine.
type Device struct {
	ID, Hostname, OS string
	Online           bool
	Agent            string // its agent's protocol, in words ("protocol 2")
}

// Screen is the remote-screen page.
type Screen struct {
	Title   string // host name
	Device  string
	Session string // support session id, "" for unattended
	Config  string // JSON for the page's script
	Control bool
	CSRF    string
	// Confirm holds the connection until the technician clicks Connect:
	// the page was reached from another site, which must not start a
	// session by itself.
	Confirm bool
	// Unserved says, a sentence each, which backstage capabilities the
	// machine's agent lacks ("pc-7 runs peerdesk agent protocol 1, which
	// has no file transfer; update the agent").
	Unserved []string
}

// Wake is the wake-up page of one machine.
type Wake struct {
	Device string
	CSRF   string
	Relay  string // after a wake-up: the agent that sent it
	Sent   string // what it sent
	Error  string
}

// Tools is a machine's tools page.
type Tools struct {
	Device   string
	Hostname string
	CSRF     string
	Facts    [][2]string // label, value
	Actions  []string    // power actions offered
	Steps    []string    // after a power request: what the machine does
	Error    string
	Unserved []string // as Screen.Unserved
}

// KeyNeeded is the page for a browser without the page's key.
type KeyNeeded struct {
	Base  string // the page's address, without the key
	Error string // why a Connect link did not work, if one was used
}
