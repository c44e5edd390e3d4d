package support

import (
	"errors"
	"fmt"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/wire"
)

// JoinRequest is a one-time support agent presenting a technician's code.
type JoinRequest struct {
	Code      string
	Hostname  string
	OS        string
	NodeKeyID uint64      // the ephemeral overlay key minted for it
	Agent     wire.Served // the agent's protocol and capabilities (checked by the caller)
}

// Join binds a technician's code to a new session for a one-time support
// agent and returns the session and the support device's secret.
func (d *Desk) Join(r JoinRequest) (Session, string, error) {
	now := d.now().UTC()
	secret := randomHex(32)
	s := Session{
		ID: "ses-" + randomHex(8), Code: r.Code, Device: "sup-" + randomHex(8), Hostname: r.Hostname, OS: r.OS,
		OneTime: true, NodeKeyID: r.NodeKeyID, SecretHash: hashSecret(secret), State: Open, Created: now,
		Agent: r.Agent.Normalized(),
	}
	err := d.db.Update(func(tx store.Tx) error {
		c, err := d.bindable(tx, r.Code, KindTechnician)
		if err != nil {
			return err
		}
		s.Technician = c.Assignee
		c.State, c.Session = Bound, s.ID
		if err := d.putCode(tx, c); err != nil {
			return err
		}
		return d.open(tx, s)
	})
	if err != nil {
		return Session{}, "", err
	}
	s.CodeRef = d.ref(s.Code)
	return s, secret, nil
}

// Redeem binds a code an end user's agent asked for to a new session worked
// by technician.
func (d *Desk) Redeem(code, technician string) (Session, error) {
	now := d.now().UTC()
	s := Session{ID: "ses-" + randomHex(8), Code: code, Technician: technician, State: Open, Created: now}
	err := d.db.Update(func(tx store.Tx) error {
		c, err := d.bindable(tx, code, KindRequest)
		if err != nil {
			return err
		}
		s.Device, s.Hostname = c.Device, c.Hostname
		var existing string
		if err := tx.Get(nsByDevice, s.Device, &existing); err == nil {
			return fmt.Errorf("%w: the device is already in session %s", ErrNotAllowed, existing)
		}
		c.State, c.Session = Bound, s.ID
		if err := d.putCode(tx, c); err != nil {
			return err
		}
		return d.open(tx, s)
	})
	if err != nil {
		return Session{}, err
	}
	s.CodeRef = d.ref(s.Code)
	return s, nil
}

// open writes a new session and its device index.
func (d *Desk) open(tx store.Tx, s Session) error {
	if err := d.putSession(tx, s, true); err != nil {
		return err
	}
	return tx.Put(nsByDevice, s.Device, s.ID)
}

func (d *Desk) bindable(tx store.Tx, code, kind string) (Code, error) {
	if !validDigits(code) {
		return Code{}, ErrNoCode
	}
	c, err := d.getCode(tx, code)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, errSealed) {
		return Code{}, ErrNoCode
	} else if err != nil {
		return Code{}, err
	}
	if err := usable(c, d.now()); err != nil {
		if errors.Is(err, ErrExpired) && c.State == Waiting {
			c.State = Expired
			if perr := d.putCode(tx, c); perr != nil {
				return Code{}, perr
			}
		}
		return Code{}, err
	}
	if c.Kind != kind {
		return Code{}, ErrWrongKind
	}
	return c, nil
}

// Claim lets a technician work an open session: their own, or a team
// session nobody has claimed yet (first come).
func (d *Desk) Claim(sessionID, technician string) (Session, error) {
	var s Session
	err := d.db.Update(func(tx store.Tx) (err error) {
		if s, err = d.getSession(tx, sessionID); errors.Is(err, store.ErrNotFound) {
			return ErrNoSession
		} else if err != nil {
			return err
		}
		switch {
		case s.State != Open:
			return ErrEnded
		case s.Technician == technician:
			return nil
		case s.Technician != "":
			return ErrNotYours
		}
		s.Technician = technician
		return d.putSession(tx, s, false)
	})
	return s, err
}

// End closes a session and releases its code.
func (d *Desk) End(sessionID, by, reason string) (Session, error) {
	var s Session
	err := d.db.Update(func(tx store.Tx) (err error) {
		if s, err = d.getSession(tx, sessionID); errors.Is(err, store.ErrNotFound) {
			return ErrNoSession
		} else if err != nil {
			return err
		}
		if s.State != Open {
			return ErrEnded
		}
		s.State, s.Ended, s.EndedBy, s.EndReason = Closed, d.now().UTC(), by, clip(reason, 256)
		if c, err := d.getCode(tx, s.Code); err == nil && c.Session == s.ID {
			c.State = Ended
			if err := d.putCode(tx, c); err != nil {
				return err
			}
		} else if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, errSealed) {
			return err
		}
		if err := tx.Delete(nsByDevice, s.Device); err != nil {
			return err
		}
		return d.putSession(tx, s, false)
	})
	return s, err
}

// Session returns one session.
func (d *Desk) Session(id string) (Session, error) {
	var s Session
	err := d.db.View(func(tx store.Tx) (err error) { s, err = d.getSession(tx, id); return err })
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrNoSession
	}
	return s, err
}

// OpenSessionFor returns the open session whose device is device.
func (d *Desk) OpenSessionFor(device string) (Session, error) {
	var s Session
	err := d.db.View(func(tx store.Tx) error {
		var id string
		if err := tx.Get(nsByDevice, device, &id); err != nil {
			return err
		}
		var err error
		s, err = d.getSession(tx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrNoSession
	}
	return s, err
}

// Sessions lists every session.
func (d *Desk) Sessions() ([]Session, error) {
	var out []Session
	err := d.db.View(func(tx store.Tx) error {
		return tx.Scan(nsSession, "", func(_ string, v []byte) error {
			var ss storedSession
			if err := store.Decode(v, &ss); err != nil {
				return err
			}
			s, err := d.openSession(ss)
			if err != nil {
				s = ss.Session // its code does not open: list the session without it
			}
			out = append(out, s)
			return nil
		})
	})
	return out, err
}

// AuthenticateDevice checks a one-time support agent's credentials and
// returns its open session.
func (d *Desk) AuthenticateDevice(device, secret string) (Session, error) {
	s, err := d.OpenSessionFor(device)
	if err != nil || !s.OneTime || !secretMatches(s.SecretHash, secret) {
		return Session{}, fmt.Errorf("%w", ErrBadSecret)
	}
	return s, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
