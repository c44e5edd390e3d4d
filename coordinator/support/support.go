// Package support holds support codes and the sessions they open (S1, S2).
//
// A code is six digits. A technician generates one (assigned to themself,
// or to the team: first come, first served), or an end user's agent asks
// for one and the user reads it out. A code is active until it is used,
// cancelled or — if it was given an expiry — expired; no active code is
// ever handed out twice; and it binds to exactly one session, which
// releases it when it ends. A generated code expires after 30 minutes
// unless its technician or Config.CodeTTL says otherwise; a requested one
// after 24 hours.
//
// Codes are not stored in clear: see Load and Config for the keyed index
// and the sealed digits.
//
// Two kinds of session come from codes:
//   - a one-time support agent (the portal's download) joins with a
//     technician's code: the session's device is an ephemeral support
//     device minted here;
//   - a technician redeems a code an enrolled agent asked for: the
//     session's device is that agent's.
package support

import (
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/wire"
)

const (
	nsCode     = "supcodek"    // Ref (HMAC of the digits) → storedCode (the latest use of those digits)
	nsSession  = "supsession"  // session id → Session
	nsByDevice = "supbydevice" // device id → its open session's id
	nsAsked    = "supasked"    // device id → storedAsk: its waiting request code (L2)
)

// Code states.
const (
	Waiting   = "waiting"   // active, not yet used
	Bound     = "bound"     // active, bound to a live session
	Ended     = "ended"     // its session ended; the digits are free again
	Cancelled = "cancelled" // cancelled before use
	Expired   = "expired"   // expired before use
)

// Code kinds.
const (
	KindTechnician = "technician" // a technician generated it for an end user
	KindRequest    = "request"    // an end user's agent asked for it
)

// Errors; test with errors.Is. Their messages are safe to show an end user.
var (
	ErrNoCode     = errors.New("no such support code")
	ErrUsed       = errors.New("this support code has already been used")
	ErrCancelled  = errors.New("this support code was cancelled")
	ErrExpired    = errors.New("this support code has expired")
	ErrWrongKind  = errors.New("this support code cannot be used here")
	ErrNoSession  = errors.New("no such support session")
	ErrEnded      = errors.New("the support session has ended")
	ErrNotYours   = errors.New("the support session belongs to another technician")
	ErrBadSecret  = errors.New("wrong support device credentials")
	ErrNotAllowed = errors.New("not allowed")
)

// Code is one support code.
type Code struct {
	Code      string    `json:"code"` // the six digits (never stored: sealed)
	Ref       string    `json:"ref"`  // the store's key for it: an HMAC of the digits, safe to log
	Kind      string    `json:"kind"`
	State     string    `json:"state"`
	CreatedBy string    `json:"created_by"` // technician, or "device:<id>"
	Assignee  string    `json:"assignee"`   // technician; "" means the team
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires,omitzero"` // zero: until used or cancelled
	Session   string    `json:"session,omitempty"`
	Device    string    `json:"device,omitempty"` // the requesting device, for KindRequest
	Hostname  string    `json:"hostname,omitempty"`
}

// Active reports whether c can still open a session.
func (c Code) Active(now time.Time) bool {
	return c.State == Waiting && (c.Expires.IsZero() || now.Before(c.Expires))
}

// Session is what a code opened.
type Session struct {
	ID         string    `json:"id"`
	Code       string    `json:"code"`       // the code's digits (never stored: sealed)
	CodeRef    string    `json:"code_ref"`   // the code's Ref
	Technician string    `json:"technician"` // "" until a team member claims it
	Device     string    `json:"device"`
	Hostname   string    `json:"hostname"`
	OS         string    `json:"os"`
	OneTime    bool      `json:"one_time"` // a one-time support agent: consent can never be turned off
	NodeKeyID  uint64    `json:"overlay_key_id,omitempty"`
	SecretHash string    `json:"secret_hash,omitempty"`
	State      string    `json:"state"` // "open" or "ended"
	Created    time.Time `json:"created"`
	Ended      time.Time `json:"ended,omitzero"`
	EndedBy    string    `json:"ended_by,omitempty"`
	EndReason  string    `json:"end_reason,omitempty"`
	// Agent is what a one-time agent said it serves at its join
	// (protocol 2); an enrolled device's is kept on the device.
	Agent wire.Served `json:"agent,omitzero"`
}

// Session states.
const (
	Open   = "open"
	Closed = "ended"
)

// Desk holds codes and sessions.
type Desk struct {
	db    store.DB
	now   func() time.Time
	ttl   time.Duration // a generated code's default lifetime; 0: none
	index []byte        // HMAC key of the codes' store keys
	aead  cipher.AEAD   // seals the digits
	askMu sync.Mutex    // serialises Request
}

// MaxCodeTTL bounds the optional expiry of a code.
const MaxCodeTTL = 7 * 24 * time.Hour

// Generate makes a technician's code. team means first come among
// technicians; ttl 0 means the Desk's default (Config.CodeTTL: 30 minutes
// unless configured).
func (d *Desk) Generate(technician string, team bool, ttl time.Duration) (Code, error) {
	if ttl < 0 || ttl > MaxCodeTTL {
		return Code{}, fmt.Errorf("support: code lifetime must be 0 (the default) or up to %s", MaxCodeTTL)
	}
	if ttl == 0 {
		ttl = d.ttl
	}
	c := Code{Kind: KindTechnician, CreatedBy: technician, Assignee: technician}
	if team {
		c.Assignee = ""
	}
	return d.issue(c, ttl)
}

// Request makes a code for an end user whose enrolled agent asks for help.
// A device has at most one waiting request (L2): while its last code can
// still be used, asking again returns that code, so a machine that asks
// in a loop neither floods the board nor fills the code space that
// guessers try.
func (d *Desk) Request(device, hostname string, ttl time.Duration) (Code, error) {
	if ttl <= 0 || ttl > MaxCodeTTL {
		ttl = 24 * time.Hour
	}
	d.askMu.Lock() // one check-then-issue at a time: two asks at once get one code
	defer d.askMu.Unlock()
	if c, ok, err := d.waitingRequest(device); err != nil || ok {
		return c, err
	}
	return d.issue(Code{Kind: KindRequest, CreatedBy: "device:" + device, Device: device, Hostname: hostname}, ttl)
}

// storedAsk points from a device to its request code: the code's Ref and
// its digits sealed (never in clear, like every code).
type storedAsk struct {
	Ref    string `json:"ref"`
	Sealed []byte `json:"sealed"`
}

// waitingRequest returns the device's request code if it is still waiting.
func (d *Desk) waitingRequest(device string) (Code, bool, error) {
	var c Code
	err := d.db.View(func(tx store.Tx) error {
		var a storedAsk
		if err := tx.Get(nsAsked, device, &a); err != nil {
			return err
		}
		digits, err := d.unseal(a.Sealed, nsAsked+"/"+device)
		if err != nil {
			return err
		}
		c, err = d.getCode(tx, digits)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound) || errors.Is(err, errSealed):
		return Code{}, false, nil
	case err != nil:
		return Code{}, false, fmt.Errorf("support: %w", err)
	}
	if c.Kind != KindRequest || c.Device != device || !c.Active(d.now()) {
		return Code{}, false, nil // its digits were reused, or it was used, cancelled or expired
	}
	c.Ref = d.ref(c.Code)
	return c, true, nil
}

func (d *Desk) issue(c Code, ttl time.Duration) (Code, error) {
	now := d.now().UTC()
	c.State, c.Created = Waiting, now
	if ttl > 0 {
		c.Expires = now.Add(ttl)
	}
	for attempt := 0; attempt < 64; attempt++ {
		c.Code = sixDigits()
		err := d.db.Update(func(tx store.Tx) error {
			switch old, err := d.getCode(tx, c.Code); {
			case err == nil && (old.State == Bound || old.Active(now)):
				return store.ErrExists // never reissue an active code
			case err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, errSealed):
				return err
			}
			if c.Kind == KindRequest {
				ask := storedAsk{Ref: d.ref(c.Code), Sealed: d.seal(c.Code, nsAsked+"/"+c.Device)}
				if err := tx.Put(nsAsked, c.Device, ask); err != nil {
					return err
				}
			}
			return d.putCode(tx, c)
		})
		if errors.Is(err, store.ErrExists) {
			continue
		}
		if err != nil {
			return Code{}, fmt.Errorf("support: %w", err)
		}
		c.Ref = d.ref(c.Code)
		return c, nil
	}
	return Code{}, errors.New("support: no free code found; too many active codes")
}

// Lookup returns the code if it can still open a session, or why not.
func (d *Desk) Lookup(code string) (Code, error) {
	if !validDigits(code) {
		return Code{}, ErrNoCode
	}
	var c Code
	err := d.db.View(func(tx store.Tx) (err error) { c, err = d.getCode(tx, code); return err })
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, errSealed) {
		return Code{}, ErrNoCode
	}
	if err != nil {
		return Code{}, err
	}
	return c, usable(c, d.now())
}

func usable(c Code, now time.Time) error {
	switch {
	case c.State == Bound || c.State == Ended:
		return ErrUsed
	case c.State == Cancelled:
		return ErrCancelled
	case c.State == Expired || c.State == Waiting && !c.Active(now):
		return ErrExpired
	}
	return nil
}

// Cancel withdraws a waiting code; only its creator or an admin may.
func (d *Desk) Cancel(code, actor string, admin bool) error {
	return d.db.Update(func(tx store.Tx) error {
		if !validDigits(code) {
			return ErrNoCode
		}
		c, err := d.getCode(tx, code)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, errSealed) {
			return ErrNoCode
		} else if err != nil {
			return err
		}
		if c.CreatedBy != actor && !admin && c.Assignee != actor {
			return ErrNotAllowed
		}
		if err := usable(c, d.now()); err != nil {
			return err
		}
		c.State = Cancelled
		return d.putCode(tx, c)
	})
}

// Codes lists every code record (the latest use of each set of digits).
// A record that does not open under the Desk's key (written under another
// key, or altered) is left out.
func (d *Desk) Codes() ([]Code, error) {
	var out []Code
	err := d.db.View(func(tx store.Tx) error {
		return tx.Scan(nsCode, "", func(_ string, v []byte) error {
			var sc storedCode
			if err := store.Decode(v, &sc); err != nil {
				return err
			}
			if c, err := d.openCode(sc); err == nil {
				out = append(out, c)
			}
			return nil
		})
	})
	return out, err
}

func sixDigits() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic("support: crypto/rand failed: " + err.Error()) // never fails on supported OSes
	}
	return fmt.Sprintf("%06d", n.Int64())
}

func validDigits(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("support: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func secretMatches(hash, secret string) bool {
	return subtle.ConstantTimeCompare([]byte(hash), []byte(hashSecret(secret))) == 1
}
