// Package agentui holds the templ components of the end user's page on the
// agent: who wants to connect (consent), who is connected (the indicator),
// the support code to read out, and a way to end the session at once.
package agentui

// View is everything the page shows.
type View struct {
	Base       string // the page's secret path prefix, e.g. "/k3…/"
	Product    string // "peerdesk"
	Hostname   string
	State      string // "idle", "asking", "connected", "ended"
	Technician string // who asks or is connected
	Control    bool   // the request includes mouse and keyboard
	Code       string // a support code to read out, if any
	CanAsk     bool   // "Ask for help" is offered (enrolled agents)
	Message    string // why the last session ended, or an error
	OneTime    bool   // a one-time support agent
	Version    string // changes whenever anything above does (live updates)
}
