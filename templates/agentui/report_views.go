package agentui

// ReportView is the "Report a problem" part of the page (T5): the button,
// the report being described, and the reports filed in this run.
type ReportView struct {
	Enabled    bool         // the agent files reports (an enrolled agent)
	Draft      ReportDraft  // a report captured and waiting for its description; zero if none
	Filed      []ReportLine // newest first
	Priorities []string     // the choices, lowest first
	Contacts   string       // the shop's contacts, shown while a report is queued; "" if none
	Hotkey     string       // the key that does the same, e.g. "F8"; "" if none
}

// ReportDraft is a captured report the user is describing.
type ReportDraft struct {
	ID      string
	Shot    string   // URL of the screenshot; "" if none was taken
	System  []string // a few lines of system information, e.g. "Debian 12 · 8 GB"
	User    string   // the user it is filed under
	Missing []string // what could not be captured, in words
}

// ReportLine is one filed report.
type ReportLine struct {
	Title    string
	Priority string
	Ticket   string // the help desk's number once sent; "" while queued
}

// AnyQueued reports whether a filed report is still waiting to be sent.
func (r ReportView) AnyQueued() bool {
	for _, l := range r.Filed {
		if l.Ticket == "" {
			return true
		}
	}
	return false
}
