package desk

import "github.com/peerdesk/peerdesk/policy"

// Auth is what a route authenticates before its handler runs.
type Auth uint8

// Authentications.
const (
	Public     Auth = iota // nobody: the route is on its transport's declared public list
	Technician             // a technician's session (bearer token or cookie)
	Device                 // an agent's device credentials
)

func (a Auth) String() string {
	switch a {
	case Public:
		return "public"
	case Technician:
		return "technician"
	case Device:
		return "device"
	}
	return "auth(?)"
}

// Target is what a route acts on, for the company-scope check.
type Target uint8

// Targets.
const (
	NoTarget      Target = iota // nothing of a company
	DeviceTarget                // one device, named in the request
	CodeTarget                  // one support code
	SessionTarget               // one support session
	ListTarget                  // a list, filtered to the caller's scope
	TicketTarget                // one ticket, named in the path
)

func (t Target) String() string {
	return [...]string{"none", "device", "code", "session", "list", "ticket"}[t]
}

// Rule is one route of a transport as data: its http.ServeMux pattern,
// what authenticates it, the policy action a caller's role needs, and what
// it acts on. The transports build their muxes from their rule tables, so
// the tests that walk the tables walk what is served.
type Rule struct {
	Pattern string
	Auth    Auth
	Action  policy.Action // "" when authentication is all it needs
	Target  Target
}
