// Package enroll holds enrollment tokens and enrolled devices (O4).
//
// A token is single use and expires (24 h by default). Redeeming one records
// a device bound to the machine's stable identifier; a machine that is
// already enrolled is refused until an admin resets it. Each device gets a
// secret it presents on its own calls to the coordinator; only hashes of
// token and device secrets are stored.
//
// The token is checked before the overlay key the device joins with is
// made (L1): Enroll validates, then asks its Keys for a key, then redeems
// the token atomically, and deletes the key again if that fails.
//
// Where a device is filed — its company and site (U4) — is decided by the
// admin, never by the device (M6): the admin names them on the token, the
// device inherits them at enrollment, its inventory reports cannot change
// them (SetInventory overwrites the report's company and site), and only
// Move files it elsewhere.
//
// Revocation (M5): Remove takes a device's credentials away and keeps its
// machine from enrolling again; Reset takes them away and lets the machine
// enroll again with a new token. Both return the removed device, whose
// overlay key id (NodeKeyID) names the overlay node to delete
// (overlay.Server.RevokeAuthKey).
package enroll

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

const (
	nsToken     = "enrolltoken"
	nsDevice    = "device"
	nsMachineID = "devicebymachine" // index: machine id hash → device id
	nsRemoved   = "deviceremoved"   // devices removed by an admin, by id
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
	ErrRemoved      = errors.New("enroll: this machine was removed by an admin; an admin must reset it before it can enroll again")
	// ErrOverlayKey: the overlay key could not be made or deleted; the
	// cause is wrapped with it. Not the enrolling party's fault.
	ErrOverlayKey = errors.New("overlay key")
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
	// Company and Site are where the device enrolled with this token is
	// filed (M6); set by the admin who made the token.
	Company string `json:"company,omitempty"`
	Site    string `json:"site,omitempty"`
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
	// Company and Site are where the device is filed: from its token,
	// changed only by Move. Its inventory report's own claims are
	// overwritten with them.
	Company string `json:"company,omitempty"`
	Site    string `json:"site,omitempty"`
	// Removed is when an admin removed the device (Remove); zero for an
	// enrolled one.
	Removed time.Time `json:"removed,omitzero"`
	// Agent is what its agent last said it serves (protocol 2): at
	// enrollment, in its inventory reports and heartbeats.
	Agent wire.Served `json:"agent,omitzero"`
}

// Filed returns the company and site the device is filed under. A device
// enrolled before tokens carried them (Company and Site empty) keeps the
// ones its stored inventory named, until its next report (SetInventory)
// makes them its own, or an admin moves it.
func (d Device) Filed() (company, site string) {
	if d.Company == "" && d.Site == "" && d.Inventory != nil {
		return d.Inventory.Metadata.Company, d.Inventory.Metadata.Site
	}
	return d.Company, d.Site
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

// TokenOptions shape a new enrollment token.
type TokenOptions struct {
	TTL       time.Duration // 0 means the default (policy.EnrollTokenTTL)
	Note      string        // cut to 256 bytes
	CreatedBy string
	// Company and Site file the device that enrolls with the token (M6);
	// bounded as wire.Metadata's fields.
	Company string
	Site    string
}

// CreateToken mints a token living ttl (0 means the default), filing its
// device under no company. The returned EnrollToken lacks the CA pin,
// which the caller adds.
func (r *Registry) CreateToken(ttl time.Duration, note, createdBy string) (wire.EnrollToken, Token, error) {
	return r.NewToken(TokenOptions{TTL: ttl, Note: note, CreatedBy: createdBy})
}

// NewToken mints a token as o says. The returned EnrollToken lacks the CA
// pin, which the caller adds.
func (r *Registry) NewToken(o TokenOptions) (wire.EnrollToken, Token, error) {
	ttl, err := policy.EnrollTokenTTL(o.TTL)
	if err != nil {
		return wire.EnrollToken{}, Token{}, err
	}
	if err := (wire.Metadata{Company: o.Company, Site: o.Site}).Check(); err != nil {
		return wire.EnrollToken{}, Token{}, fmt.Errorf("enroll: %w", err)
	}
	note := o.Note
	if len(note) > 256 {
		note = strings.ToValidUTF8(note[:256], "")
	}
	now := r.now().UTC()
	for {
		et := wire.EnrollToken{ID: randomHex(4), Secret: randomHex(20)}
		t := Token{ID: et.ID, SecretHash: hash(et.Secret), Note: note, CreatedBy: o.CreatedBy, Created: now, Expires: now.Add(ttl),
			Company: o.Company, Site: o.Site}
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
	Agent     wire.Served // the enrolling agent's protocol and capabilities
}

// Keys makes the overlay pre-auth key an enrolling device joins with, and
// deletes one that an enrollment ended up not using.
type Keys interface {
	Mint() (id uint64, key string, err error)
	Delete(id uint64) error
}

// Enrollment is a new device with what it is shown once: its secret and
// its overlay key.
type Enrollment struct {
	Device  Device
	Secret  string
	AuthKey string
}

// Enroll redeems a token for a new device. The request and the token are
// checked before keys mints anything, so a wrong, used or expired token, or
// an enrolled machine, costs no overlay key (L1). The token is then marked
// used and the device and its machine index written in one transaction,
// which checks everything again; if it fails (another enrollment won the
// token meanwhile), the key is deleted.
func (r *Registry) Enroll(req Request, keys Keys) (Enrollment, error) {
	if len(req.MachineID) != 64 || !isHex(req.MachineID) {
		return Enrollment{}, ErrBadMachineID
	}
	if err := wire.CheckName(req.Hostname); err != nil {
		return Enrollment{}, fmt.Errorf("enroll: host name: %w", err)
	}
	if len(req.OS) > 64 {
		return Enrollment{}, errors.New("enroll: OS name too long")
	}
	if err := req.Agent.Check(); err != nil {
		return Enrollment{}, fmt.Errorf("enroll: %w", err)
	}
	now := r.now().UTC()
	if err := r.db.View(func(tx store.Tx) error {
		_, err := checkRedeemable(tx, req, now)
		return err
	}); err != nil {
		return Enrollment{}, err
	}

	keyID, authKey, err := keys.Mint()
	if err != nil {
		return Enrollment{}, fmt.Errorf("enroll: %w: %w", ErrOverlayKey, err)
	}
	secret := randomHex(32)
	dev := Device{
		ID: "dev-" + randomHex(8), MachineID: req.MachineID, SecretHash: hash(secret),
		Hostname: req.Hostname, OS: req.OS, Enrolled: now, TokenID: req.Token.ID, NodeKeyID: keyID,
		Agent: req.Agent.Normalized(),
	}
	err = r.db.Update(func(tx store.Tx) error {
		t, err := checkRedeemable(tx, req, now)
		if err != nil {
			return err
		}
		dev.Company, dev.Site = t.Company, t.Site
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
		if derr := keys.Delete(keyID); derr != nil {
			return Enrollment{}, errors.Join(err, fmt.Errorf("enroll: deleting the unused %w: %w", ErrOverlayKey, derr))
		}
		return Enrollment{}, err
	}
	return Enrollment{Device: dev, Secret: secret, AuthKey: authKey}, nil
}

// checkRedeemable returns req's token if it may enroll req's machine now.
func checkRedeemable(tx store.Tx, req Request, now time.Time) (Token, error) {
	var t Token
	if err := tx.Get(nsToken, req.Token.ID, &t); errors.Is(err, store.ErrNotFound) {
		return Token{}, ErrBadToken
	} else if err != nil {
		return Token{}, err
	}
	if subtle.ConstantTimeCompare([]byte(t.SecretHash), []byte(hash(req.Token.Secret))) != 1 {
		return Token{}, ErrBadToken
	}
	if !t.UsedAt.IsZero() {
		return Token{}, ErrTokenUsed
	}
	if !now.Before(t.Expires) {
		return Token{}, ErrTokenExpired
	}
	var existing string
	if err := tx.Get(nsMachineID, req.MachineID, &existing); err == nil {
		if err := tx.Get(nsRemoved, existing, new(Device)); err == nil {
			return Token{}, ErrRemoved
		}
		return Token{}, ErrKnownDevice
	} else if !errors.Is(err, store.ErrNotFound) {
		return Token{}, err
	}
	return t, nil
}

// Remove takes an enrolled device's credentials away (its secret no
// longer authenticates, it leaves every list) and keeps its machine from
// enrolling again until an admin resets it. It returns the device as it
// was; the caller deletes its overlay node (Device.NodeKeyID).
func (r *Registry) Remove(deviceID string) (Device, error) {
	var d Device
	err := r.db.Update(func(tx store.Tx) error {
		if err := tx.Get(nsDevice, deviceID, &d); errors.Is(err, store.ErrNotFound) {
			return ErrNoDevice
		} else if err != nil {
			return err
		}
		gone := d
		gone.Removed = r.now().UTC()
		gone.SecretHash = ""
		if err := tx.Put(nsRemoved, deviceID, gone); err != nil {
			return err
		}
		return tx.Delete(nsDevice, deviceID)
	})
	if err != nil {
		return Device{}, fmt.Errorf("enroll.Remove: %w", err)
	}
	return d, nil
}

// Reset forgets a device, enrolled or removed, so its machine can enroll
// again (with a new token). Its credentials stop working at once. It
// returns the device as it was; the caller deletes its overlay node
// (Device.NodeKeyID).
func (r *Registry) Reset(deviceID string) (Device, error) {
	var d Device
	err := r.db.Update(func(tx store.Tx) error {
		ns := nsDevice
		err := tx.Get(nsDevice, deviceID, &d)
		if errors.Is(err, store.ErrNotFound) {
			ns = nsRemoved
			err = tx.Get(nsRemoved, deviceID, &d)
		}
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoDevice
		} else if err != nil {
			return err
		}
		if err := tx.Delete(nsMachineID, d.MachineID); err != nil {
			return err
		}
		return tx.Delete(ns, deviceID)
	})
	if err != nil {
		return Device{}, fmt.Errorf("enroll.Reset: %w", err)
	}
	return d, nil
}

// RemovedDevices lists the devices removed and not yet reset, by id.
func (r *Registry) RemovedDevices() ([]Device, error) {
	var out []Device
	err := r.db.View(func(tx store.Tx) (err error) {
		out, err = store.All[Device](tx, nsRemoved, "")
		return err
	})
	return out, err
}

// Move files a device under another company and site (M6); only an
// admin's explicit action may call it. Its stored inventory is changed to
// match, so every view of it agrees at once.
func (r *Registry) Move(deviceID, company, site string) (Device, error) {
	if err := (wire.Metadata{Company: company, Site: site}).Check(); err != nil {
		return Device{}, fmt.Errorf("enroll.Move: %w", err)
	}
	var d Device
	err := r.db.Update(func(tx store.Tx) error {
		if err := tx.Get(nsDevice, deviceID, &d); errors.Is(err, store.ErrNotFound) {
			return ErrNoDevice
		} else if err != nil {
			return err
		}
		d.Company, d.Site = company, site
		if d.Inventory != nil {
			d.Inventory.Metadata.Company, d.Inventory.Metadata.Site = company, site
		}
		return tx.Put(nsDevice, deviceID, d)
	})
	if err != nil {
		return Device{}, fmt.Errorf("enroll.Move: %w", err)
	}
	return d, nil
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

// SetInventory stores a device's latest inventory report. The company and
// site the report claims are replaced by the ones the device is filed
// under (M6): a device cannot file itself elsewhere.
func (r *Registry) SetInventory(deviceID string, inv wire.Inventory) error {
	return r.db.Update(func(tx store.Tx) error {
		var d Device
		if err := tx.Get(nsDevice, deviceID, &d); errors.Is(err, store.ErrNotFound) {
			return ErrNoDevice
		} else if err != nil {
			return err
		}
		// A device from before tokens carried a company keeps the one its
		// stored report named (Filed), now as its own.
		d.Company, d.Site = d.Filed()
		inv.Metadata.Company, inv.Metadata.Site = d.Company, d.Site
		// What the agent serves is kept on the device (SetServed), not
		// twice.
		d.Agent, inv.Agent = inv.Agent.Normalized(), wire.Served{}
		d.Inventory = &inv
		return tx.Put(nsDevice, deviceID, d)
	})
}

// SetServed records what a device's agent says it serves (its heartbeat),
// writing only when that changed; it reports whether it did.
func (r *Registry) SetServed(deviceID string, s wire.Served) (bool, error) {
	if err := s.Check(); err != nil {
		return false, fmt.Errorf("enroll: %w", err)
	}
	if d, err := r.Device(deviceID); err == nil && d.Agent.Equal(s) {
		return false, nil
	}
	changed := false
	err := r.db.Update(func(tx store.Tx) error {
		var d Device
		if err := tx.Get(nsDevice, deviceID, &d); errors.Is(err, store.ErrNotFound) {
			return ErrNoDevice
		} else if err != nil {
			return err
		}
		if d.Agent.Equal(s) {
			return nil
		}
		d.Agent, changed = s.Normalized(), true
		return tx.Put(nsDevice, deviceID, d)
	})
	return changed, err
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
