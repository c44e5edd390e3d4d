package support

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/store"
)

// How codes are stored (L3): never in clear. A code record's key is
// Ref = HMAC-SHA256(index key, digits), and the digits themselves are
// sealed with AES-256-GCM (seal key, a random nonce, the record's key as
// additional data) so they can be shown back to their creator. Both keys
// derive from Config.Key, kept outside the store
// (pki.LoadOrCreateSecretKey): someone who reads the store cannot try the
// 10^6 codes against the index, nor open the sealed digits. Sessions keep
// their code's Ref and its digits sealed the same way.

// stored forms.
type (
	storedCode struct {
		Code
		Sealed []byte `json:"sealed,omitempty"` // nonce ‖ AES-GCM(digits)
	}
	storedSession struct {
		Session
		CodeSealed []byte `json:"code_sealed,omitempty"`
	}
)

const nsCodeClear = "supcode" // codes in clear, as stored before keys: migrated by Open

// NoExpiry, as Config.CodeTTL, makes generated codes live until used or
// cancelled (the old default, now only when configured).
const NoExpiry time.Duration = -1

// DefaultCodeTTL is how long a generated code lives unless the technician
// or Config.CodeTTL says otherwise.
const DefaultCodeTTL = 30 * time.Minute

// Config configures a Desk.
type Config struct {
	// Key is a 32-byte secret kept outside the store.
	Key []byte
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CodeTTL is the lifetime of a generated code asked for without one:
	// 0 means DefaultCodeTTL, NoExpiry none, at most MaxCodeTTL.
	CodeTTL time.Duration
}

// Load returns a Desk over db. Codes stored in clear by an older version
// are migrated: a live one is sealed (a waiting one keeps at most the
// default lifetime from now), a used, cancelled or expired one is dropped;
// sessions' codes are sealed.
func Load(db store.DB, cfg Config) (*Desk, error) {
	if len(cfg.Key) != 32 {
		return nil, errors.New("support.Load: the key must be 32 bytes")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch {
	case cfg.CodeTTL == 0:
		cfg.CodeTTL = DefaultCodeTTL
	case cfg.CodeTTL == NoExpiry:
		cfg.CodeTTL = 0
	case cfg.CodeTTL < 0 || cfg.CodeTTL > MaxCodeTTL:
		return nil, fmt.Errorf("support.Load: CodeTTL must be up to %s, or NoExpiry", MaxCodeTTL)
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, cfg.Key)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("peerdesk support code seal v1"))
	if err != nil {
		return nil, fmt.Errorf("support.Load: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("support.Load: %w", err)
	}
	d := &Desk{db: db, now: cfg.Now, ttl: cfg.CodeTTL, index: derive("peerdesk support code index v1"), aead: aead}
	if err := d.migrate(); err != nil {
		return nil, fmt.Errorf("support.Load: %w", err)
	}
	return d, nil
}

// New returns a Desk over db with a random key that lives as long as the
// Desk (codes do not survive it): for tests. A coordinator uses Load.
func New(db store.DB, now func() time.Time) *Desk {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic("support: crypto/rand failed: " + err.Error())
	}
	d, err := Load(db, Config{Key: key, Now: now})
	if err != nil {
		panic("support.New: " + err.Error()) // only a failing store
	}
	return d
}

// ref is a code's store key: its digits' HMAC under the index key.
func (d *Desk) ref(digits string) string {
	m := hmac.New(sha256.New, d.index)
	m.Write([]byte(digits))
	return hex.EncodeToString(m.Sum(nil))
}

func (d *Desk) seal(plain, ad string) []byte {
	nonce := make([]byte, d.aead.NonceSize(), d.aead.NonceSize()+len(plain)+d.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("support: crypto/rand failed: " + err.Error())
	}
	return d.aead.Seal(nonce, nonce, []byte(plain), []byte(ad))
}

func (d *Desk) unseal(sealed []byte, ad string) (string, error) {
	n := d.aead.NonceSize()
	if len(sealed) < n {
		return "", errSealed
	}
	p, err := d.aead.Open(nil, sealed[:n], sealed[n:], []byte(ad))
	if err != nil {
		return "", errSealed
	}
	return string(p), nil
}

var errSealed = errors.New("support: a sealed record does not open (another key, or altered)")

// getCode reads the code whose digits are digits.
func (d *Desk) getCode(tx store.Tx, digits string) (Code, error) {
	var sc storedCode
	if err := tx.Get(nsCode, d.ref(digits), &sc); err != nil {
		return Code{}, err
	}
	return d.openCode(sc)
}

func (d *Desk) openCode(sc storedCode) (Code, error) {
	c := sc.Code
	digits, err := d.unseal(sc.Sealed, nsCode+"/"+c.Ref)
	if err != nil {
		return Code{}, err
	}
	c.Code = digits
	return c, nil
}

func (d *Desk) putCode(tx store.Tx, c Code) error {
	c.Ref = d.ref(c.Code)
	sc := storedCode{Code: c, Sealed: d.seal(c.Code, nsCode+"/"+c.Ref)}
	sc.Code.Code = ""
	return tx.Put(nsCode, c.Ref, sc)
}

func (d *Desk) openSession(ss storedSession) (Session, error) {
	s := ss.Session
	if len(ss.CodeSealed) > 0 {
		digits, err := d.unseal(ss.CodeSealed, nsSession+"/"+s.ID)
		if err != nil {
			return Session{}, err
		}
		s.Code = digits
	}
	return s, nil
}

func (d *Desk) getSession(tx store.Tx, id string) (Session, error) {
	var ss storedSession
	if err := tx.Get(nsSession, id, &ss); err != nil {
		return Session{}, err
	}
	return d.openSession(ss)
}

func (d *Desk) putSession(tx store.Tx, s Session, insert bool) error {
	if s.Code != "" {
		s.CodeRef = d.ref(s.Code)
	}
	ss := storedSession{Session: s, CodeSealed: d.seal(s.Code, nsSession+"/"+s.ID)}
	ss.Session.Code = ""
	if insert {
		return tx.Insert(nsSession, s.ID, ss)
	}
	return tx.Put(nsSession, s.ID, ss)
}

// migrate seals what an older version stored in clear.
func (d *Desk) migrate() error {
	now := d.now().UTC()
	var clear []Code
	var sessions []Session
	err := d.db.View(func(tx store.Tx) (err error) {
		if clear, err = store.All[Code](tx, nsCodeClear, ""); err != nil {
			return err
		}
		return tx.Scan(nsSession, "", func(_ string, v []byte) error {
			var ss storedSession
			if err := store.Decode(v, &ss); err != nil {
				return err
			}
			if ss.Code != "" && len(ss.CodeSealed) == 0 {
				sessions = append(sessions, ss.Session)
			}
			return nil
		})
	})
	if err != nil || len(clear) == 0 && len(sessions) == 0 {
		return err
	}
	for _, c := range clear {
		err := d.db.Update(func(tx store.Tx) error {
			if err := tx.Delete(nsCodeClear, c.Code); err != nil {
				return err
			}
			if !validDigits(c.Code) || c.State != Bound && !c.Active(now) {
				return nil // used, cancelled or expired: nothing to keep
			}
			if c.State == Waiting && d.ttl > 0 && (c.Expires.IsZero() || c.Expires.After(now.Add(d.ttl))) {
				c.Expires = now.Add(d.ttl)
			}
			return d.putCode(tx, c)
		})
		if err != nil {
			return fmt.Errorf("migrating a clear code: %w", err)
		}
	}
	for _, s := range sessions {
		if err := d.db.Update(func(tx store.Tx) error { return d.putSession(tx, s, false) }); err != nil {
			return fmt.Errorf("migrating session %s: %w", s.ID, err)
		}
	}
	return nil
}

// Ref is the reference of the code whose digits are digits: what audit
// records and logs name a code by (it does not give the digits away).
func (d *Desk) Ref(digits string) string { return d.ref(digits) }
