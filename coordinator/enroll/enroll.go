// Package enroll holds enrollment tokens and enrolled devices (O4).
//
// A token is single use and expires (24 h by default). Redeeming one records
// a device bound to the machine's stable identifier; a machine that is
// already enrolled is refused until an admin resets it. Each device gets a
// secret it presents on its own calls to the coordinator; only hashes of
// token and device secrets are stored.
package enroll

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

const (
	nsToken     = "enrolltoken"
	nsDevice    = "device"
	nsMachineID = "devicebymachine" // index: machine id hash → device id
)

// Errors; test with errors.Is.
var (
	ErrBadToken     = errors.New("enroll: unknown or wrong token")
	ErrTokenUsed    = errors.New("enroll: token already used")
	ErrTokenExpired = errors.New("enroll: token expired")
	ErrKnownDevice  = errors.New("enroll: this machine is already enrolled; an admin must reset it first")
	ErrNoDevice     = errors.New("enroll: no such device")
	ErrBadMachineID = errors.New("enroll: machine id must be 64 hex digits")
	ErrDeviceSecret = errors.New("enroll: wrong device credentials")
)

// Token is a stored enrollment token (its secret only as a hash).
type Token struct {
	ID         string    `json:"id"`
	SecretHash string    `json:"secret_hash"`
	Note       string    `json:"note,omitempty"`
	CreatedBy  string    `json:"created_by"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
	UsedAt     time.Time `json:"used_at,omitzero"`
	UsedBy     string    `json:"used_by,omitempty"` // device id
}

// Device is an enrolled machine.
type Device struct {
	ID         string          `json:"id"`
	MachineID  string          `json:"machine_id"`
	SecretHash string          `json:"secret_hash"`
	Hostname   string          `json:"hostname"`
	OS         string          `json:"os"`
	Enrolled   time.Time       `json:"enrolled"`
	TokenID    string          `json:"token_id"`
	NodeKeyID  uint64          `json:"overlay_key_id"` // the pre-auth key it joined with
	Inventory  *wire.Inventory `json:"inventory,omitempty"`
}

// Registry manages tokens and devices.
type Registry struct {
	db  store.DB
	now func() time.Time
}

// New returns a Registry over db; now is the clock (nil means time.Now).
func New(db store.DB, now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{db: db, now: now}
}

// CreateToken mints a token living ttl (0 means the default). The returned
// EnrollToken lacks the CA pin, which the caller adds.
func (r *Registry) CreateToken(ttl time.Duration, note, createdBy string) (wire.EnrollToken, Token, error) {
	ttl, err := policy.EnrollTokenTTL(ttl)
	if err != nil {
		return wire.EnrollToken{}, Token{}, err
	}
	if len(note) > 256 {
		note = note[:256]
	}
	now := r.now().UTC()
	for {
		et := wire.EnrollToken{ID: randomHex(4), Secret: randomHex(20)}
		t := Token{ID: et.ID, SecretHash: hash(et.Secret), Note: note, CreatedBy: createdBy, Created: now, Expires: now.Add(ttl)}
		err := r.db.Update(func(tx store.Tx) error { return tx.Insert(nsToken, t.ID, t) })
		if errors.Is(err, store.ErrExists) {
			continue // 32-bit id collision: draw again
		}
		if err != nil {
			return wire.EnrollToken{}, Token{}, fmt.Errorf("enroll.CreateToken: %w", err)
		}
		return et, t, nil
	}
}

// Request is what an agent presents to enroll.
type Request struct {
	Token     wire.EnrollToken
	MachineID string
	Hostname  string
	OS        string
	NodeKeyID uint64 // the overlay pre-auth key minted for this enrollment
}

// Enroll redeems a token for a new device, atomically: the token is marked
// used and the device and its machine index are written in one transaction.
// It returns the device and its secret (shown once).
func (r *Registry) Enroll(req Request) (Device, string, error) {
	if len(req.MachineID) != 64 || !isHex(req.MachineID) {
		return Device{}, "", ErrBadMachineID
	}
	if err := wire.CheckName(req.Hostname); err != nil {
		return Device{}, "", fmt.Errorf("enroll: host name: %w", err)
	}
	if len(req.OS) > 64 {
		return Device{}, "", errors.New("enroll: OS name too long")
	}
	now := r.now().UTC()
	secret := randomHex(32)
	dev := Device{
		ID: "dev-" + randomHex(8), MachineID: req.MachineID, SecretHash: hash(secret),
		Hostname: req.Hostname, OS: req.OS, Enrolled: now, TokenID: req.Token.ID, NodeKeyID: req.NodeKeyID,
	}
	err := r.db.Update(func(tx store.Tx) error {
		var t Token
		if err := tx.Get(nsToken, req.Token.ID, &t); errors.Is(err, store.ErrNotFound) {
			return ErrBadToken
		} else if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare([]byte(t.SecretHash), []byte(hash(req.Token.Secret))) != 1 {
			return ErrBadToken
		}
		if !t.UsedAt.IsZero() {
			return ErrTokenUsed
		}
		if !now.Before(t.Expires) {
			return ErrTokenExpired
		}
		var existing string
		if err := tx.Get(nsMachineID, req.MachineID, &existing); err == nil {
			return ErrKnownDevice
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		t.UsedAt, t.UsedBy = now, dev.ID
		if err := tx.Put(nsToken, t.ID, t); err != nil {
			return err
		}
		if err := tx.Insert(nsDevice, dev.ID, dev); err != nil {
			return err
		}
		return tx.Put(nsMachineID, req.MachineID, dev.ID)
	})
	if err != nil {
		return Device{}, "", err
	}
	return dev, secret, nil
}

// Reset forgets a device so its machine can enroll again.
func (r *Registry) Reset(deviceID string) error {
	return r.db.Update(func(tx store.Tx) error {
		var d Device
		if err := tx.Get(nsDevice, deviceID, &d); errors.Is(err, store.ErrNotFound) {
			return ErrNoDevice
		} else if err != nil {
			return err
		}
		if err := tx.Delete(nsMachineID, d.MachineID); err != nil {
			return err
		}
		return tx.Delete(nsDevice, deviceID)
	})
}

// Authenticate checks a device's credentials.
func (r *Registry) Authenticate(deviceID, secret string) (Device, error) {
	d, err := r.Device(deviceID)
	if errors.Is(err, ErrNoDevice) {
		return Device{}, ErrDeviceSecret
	}
	if err != nil {
		return Device{}, err
	}
	if subtle.ConstantTimeCompare([]byte(d.SecretHash), []byte(hash(secret))) != 1 {
		return Device{}, ErrDeviceSecret
	}
	return d, nil
}

// Device returns one device.
func (r *Registry) Device(id string) (Device, error) {
	var d Device
	err := r.db.View(func(tx store.Tx) error { return tx.Get(nsDevice, id, &d) })
	if errors.Is(err, store.ErrNotFound) {
		return Device{}, ErrNoDevice
	}
	return d, err
}

// Devices lists every device, ordered by id.
func (r *Registry) Devices() ([]Device, error) {
	var out []Device
	err := r.db.View(func(tx store.Tx) (err error) {
		out, err = store.All[Device](tx, nsDevice, "")
		return err
	})
	return out, err
}

// Tokens lists every token.
func (r *Registry) Tokens() ([]Token, error) {
	var out []Token
	err := r.db.View(func(tx store.Tx) (err error) {
		out, err = store.All[Token](tx, nsToken, "")
		return err
	})
	return out, err
}

// SetInventory stores a device's latest inventory report.
func (r *Registry) SetInventory(deviceID string, inv wire.Inventory) error {
	return r.db.Update(func(tx store.Tx) error {
		var d Device
		if err := tx.Get(nsDevice, deviceID, &d); errors.Is(err, store.ErrNotFound) {
			return ErrNoDevice
		} else if err != nil {
			return err
		}
		d.Inventory = &inv
		return tx.Put(nsDevice, deviceID, d)
	})
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("enroll: crypto/rand failed: " + err.Error()) // never fails on supported OSes
	}
	return hex.EncodeToString(b)
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}
