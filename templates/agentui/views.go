// Package agentui holds the templ components of the end user's page on the
// agent: who asks to do exactly what (consent), what each technician may do
// now (the indicator), the support code to read out, a way to end the
// session at once, "Report a problem" (a screenshot ticket, T5), and a
// chat with the help desk assistant on a page of its own (chat.templ).
package agentui

// View is everything the page shows.
type View struct {
	Base       string    // the page's path prefix, e.g. "/k3…/"
	Product    string    // "peerdesk"
	Hostname   string    // this machine
	State      string    // "idle", "asking" (a question is open), "connected"
	Technician string    // who asks (asking)
	Asks       string    // what the question would allow, e.g. "see and control your screen"
	Nonce      string    // the open question's nonce: Allow and Deny name it
	Allowed    []Allowed // who may do what now; empty when nobody is connected
	Code       string    // a support code to read out, if any
	CanAsk     bool      // "Ask for help" is offered (enrolled agents)
	Message    string    // why the last session ended, or an error
	OneTime    bool      // a one-time support agent
	Network    string    // why this computer cannot reach the help desk's network, in words; "" when it can
	Assistant  string    // the help desk assistant's name: a link to its chat page; "" if none

	// Report is "Report a problem" (report_views.go).
	Report ReportView

	Version string // changes whenever anything above does (live updates)
}

// Allowed is one technician's allowance, in words.
type Allowed struct {
	Technician string // "alice"
	Does       string // "see your screen", "see and control your screen"
}
