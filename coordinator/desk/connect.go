package desk

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// ConnectTicketTTL is how long a connect ticket stays good.
const ConnectTicketTTL = wire.ConnectTicketSeconds * time.Second

// maxTickets bounds the connect tickets kept at once, and
// maxTicketsPerUser those of one technician: a click mints one, and each
// lives a minute.
const (
	maxTickets        = 4096
	maxTicketsPerUser = 32
)

// Connect-ticket refusals.
var (
	ErrTicketUnknown = errors.New("desk: connect ticket unknown or already used")
	ErrTicketExpired = errors.New("desk: connect ticket expired")
	ErrTicketNotMine = errors.New("desk: connect ticket minted for another technician")
)

// ConnectTicket is a one-time ticket for the caller's own viewer, to put in
// the dashboard's link to the viewer's page. ViewerOnline tells whether a
// viewer of this technician is on the overlay now: without one, the link
// would lead nowhere.
type ConnectTicket struct {
	Ticket       string
	Target       wire.ConnectTarget
	Expires      time.Time
	ViewerOnline bool
}

type ticket struct {
	seq     uint64 // minting order
	user    string
	target  wire.ConnectTarget
	expires time.Time
}

// tickets holds the connect tickets by the SHA-256 of their text: the
// tickets themselves are kept nowhere.
type tickets struct {
	mu  sync.Mutex
	m   map[[32]byte]ticket
	seq uint64
}

// MintConnect mints a connect ticket for the caller and target (a support
// session, which needs the support action, or a machine, which needs a
// grant's): one use, ConnectTicketTTL, redeemable only by the caller's own
// session (RedeemConnect). Audited as "connect.ticket", without the ticket.
func (d *Desk) MintConnect(c Caller, t wire.ConnectTarget) (ConnectTicket, error) {
	what, action := "session:"+t.Session, policy.ActionSupport
	if t.Device != "" {
		what, action = "device:"+t.Device, policy.ActionRequestGrant
	}
	ev := c.event("connect.ticket", what)
	if (t.Session == "") == (t.Device == "") || len(t.Session) > wire.MaxNameLen || len(t.Device) > wire.MaxNameLen {
		return ConnectTicket{}, d.refuse(ev, newErr(Invalid, "Name one session or one machine.", nil))
	}
	if err := d.allow(c, action, ev); err != nil {
		return ConnectTicket{}, err
	}
	b := make([]byte, 32)
	rand.Read(b) //nolint:errcheck // never fails
	text := hex.EncodeToString(b)
	now := d.now()
	d.tickets.mu.Lock()
	d.tickets.seq++
	tk := ticket{seq: d.tickets.seq, user: c.User, target: t, expires: now.Add(ConnectTicketTTL)}
	if d.tickets.m == nil {
		d.tickets.m = map[[32]byte]ticket{}
	}
	var mine [][32]byte
	for k, v := range d.tickets.m {
		switch {
		case !now.Before(v.expires):
			delete(d.tickets.m, k)
		case v.user == c.User:
			mine = append(mine, k)
		}
	}
	if len(mine) >= maxTicketsPerUser {
		// The technician's oldest ticket goes: a burst of clicks (or of
		// links another site makes the browser follow) never locks them
		// out of their own Connect.
		oldest := slices.MinFunc(mine, func(a, b [32]byte) int { return cmp.Compare(d.tickets.m[a].seq, d.tickets.m[b].seq) })
		delete(d.tickets.m, oldest)
	}
	full := len(d.tickets.m) >= maxTickets
	if !full {
		d.tickets.m[sha256.Sum256([]byte(text))] = tk
	}
	d.tickets.mu.Unlock()
	if full {
		return ConnectTicket{}, d.refuse(ev, newErr(RateLimited, "Too many Connect clicks in the last minute; wait a little.", nil))
	}
	ev.Fields["expires"] = tk.expires.UTC().Format(time.RFC3339)
	d.ok(ev)
	return ConnectTicket{Ticket: text, Target: t, Expires: tk.expires, ViewerOnline: d.viewerOnline(c.User)}, nil
}

// RedeemConnect burns a connect ticket and returns what it opens. Only the
// technician it was minted for may redeem it, once, before it expires; a
// ticket presented by anyone else is burnt too. Audited as
// "connect.redeem", without the ticket.
func (d *Desk) RedeemConnect(c Caller, text string) (wire.ConnectTarget, error) {
	ev := c.event("connect.redeem", "")
	if text == "" || len(text) > wire.MaxConnectTicket {
		return wire.ConnectTarget{}, d.refuse(ev, newErr(Invalid, "That is not a connect ticket.", nil))
	}
	key := sha256.Sum256([]byte(text))
	d.tickets.mu.Lock()
	tk, found := d.tickets.m[key]
	delete(d.tickets.m, key)
	d.tickets.mu.Unlock()
	switch {
	case !found:
		return wire.ConnectTarget{}, d.refuse(ev, newErr(NotFound, "This Connect link was used already or is unknown; click Connect on the dashboard again.", ErrTicketUnknown))
	case tk.user != c.User:
		return wire.ConnectTarget{}, d.refuse(ev, newErr(Forbidden, "This Connect link was made for another technician.", ErrTicketNotMine))
	case !d.now().Before(tk.expires):
		return wire.ConnectTarget{}, d.refuse(ev, newErr(Expired, "This Connect link has expired; click Connect on the dashboard again.", ErrTicketExpired))
	}
	ev.Target = clip(tk.target.Session + tk.target.Device)
	d.ok(ev)
	return tk.target, nil
}

// viewerOnline reports whether a technician node minted for user is
// online on the overlay: their viewer runs somewhere.
func (d *Desk) viewerOnline(user string) bool {
	for _, n := range d.cfg.Overlay.Nodes() {
		if !n.Online || !slices.Contains(n.Tags, wire.TagTech) {
			continue
		}
		if owner, err := d.cfg.Accounts.OverlayKeyOwner(n.AuthKeyID); err == nil && owner == user {
			return true
		}
	}
	return false
}
