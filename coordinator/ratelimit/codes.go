package ratelimit

import "time"

// CodeSpace is how many support codes there are (six digits).
const CodeSpace = 1_000_000

// The shipped budgets for support codes.
//
// One /64 (or one IPv4 address) gets PortalPerNetwork: a burst of 10,
// then one attempt every 20 minutes, so at most 10 + 72 = 82 attempts a
// day. Each wrong guess rules out at most one of the 10^6 codes, so the
// chance that an attacker holding one /64 hits a given live code within a
// day is at most 82 / 10^6 = 8.2e-5, under the 1e-4 (1 in 10,000) the
// design asks for; a generated code lives 30 minutes by default
// (support.DefaultCodeTTL), in which one /64 gets at most 10 + 1 = 11
// guesses: 1.1e-5.
//
// Every portal attempt also takes from PortalGlobal: a burst of 100, then
// 1,000 an hour, so at most 100 + 24,000 = 24,100 attempts a day from all
// networks together. An attacker holding any number of /64s therefore has
// at most 24,100 / 10^6 = 2.4 % a day against a code that stays live all
// day (a request code lives 24 h), and (100 + 500) / 10^6 = 0.06 % against
// a default 30-minute code. The price: about 300 /64s flooding at their
// full rate (or 100 bursting) use up the global budget, and end users
// typing codes into the portal are refused until the flood stops.
// Technicians are not: they redeem under Technician, a budget per user
// apart from the portal's.
//
// Technician, per user: a burst of 20, then one every 20 minutes (at most
// 92 a day): enough for a technician redeeming what users read out, and a
// technician account guessing request codes has at most 9.2e-5 a day
// against a given one.
//
// TestM3OneSlash64OddsPerDay computes these figures from the constants.
//
// Only wrong codes cost (issue 12, offices behind one address): every
// attempt takes a token, and a right code gives its tokens back, so the
// people of an office typing the codes they were given spend nothing.
// A browser also has a budget of its own, PortalVisitor, checked first: a
// confused user typing wrong codes is stopped by theirs (5, then 1 every
// 20 min) before they spend the office's. A guesser who drops the
// browser's cookie is held by the network's budget, which the odds above
// assume: every guess but a lucky one is wrong.
var (
	PortalVisitor    = Config{Every: 20 * time.Minute, Burst: 5}
	PortalPerNetwork = Config{Every: 20 * time.Minute, Burst: 10}
	PortalGlobal     = Config{Every: 3600 * time.Millisecond, Burst: 100}
	Technician       = Config{Every: 20 * time.Minute, Burst: 20}
)

// Codes holds the support-code budgets: the portal's per network and
// global, and the technicians' per user.
type Codes struct {
	portalVisitor, portalNet, portalAll, technician *Limiter
}

// NewCodes returns the shipped budgets on the clock now (nil: time.Now).
func NewCodes(now func() time.Time) *Codes {
	with := func(c Config) *Limiter { c.Now = now; return New(c) }
	return &Codes{portalVisitor: with(PortalVisitor), portalNet: with(PortalPerNetwork), portalAll: with(PortalGlobal), technician: with(Technician)}
}

// Portal reserves one attempt for a client at remote (an address, or
// "host:port") whose browser is visitor (its portal cookie; "" for a
// client without one, such as a one-time agent joining): the visitor's
// budget first, then the client's network's, then the global portal
// budget; all of them or none. If the code then turns out right, call
// right: it gives the tokens back, so only wrong codes cost.
func (c *Codes) Portal(remote, visitor string) (right func(), ok bool) {
	vkey := "v:" + visitor
	if visitor != "" && !c.portalVisitor.Allow(vkey) {
		return nil, false
	}
	nkey := RemoteKey(remote)
	if !c.portalNet.Allow(nkey) {
		if visitor != "" {
			c.portalVisitor.Refund(vkey)
		}
		return nil, false
	}
	if !c.portalAll.Allow("") {
		c.portalNet.Refund(nkey)
		if visitor != "" {
			c.portalVisitor.Refund(vkey)
		}
		return nil, false
	}
	return func() {
		c.portalAll.Refund("")
		c.portalNet.Refund(nkey)
		if visitor != "" {
			c.portalVisitor.Refund(vkey)
		}
	}, true
}

// Technician reports whether the authenticated technician user may try
// one more code.
func (c *Codes) Technician(user string) bool {
	return c.technician.Allow(user)
}
