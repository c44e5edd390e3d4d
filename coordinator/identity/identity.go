// Package identity holds technician accounts and their sessions: argon2id
// password hashes, lockout after repeated failures, API session tokens, and
// which overlay keys were minted for which technician.
//
// The first admin is created only by a local command on the coordinator
// machine (see cmd/peerdesk); there is no setup endpoint.
package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

const (
	nsUser     = "user"
	nsSession  = "session"
	nsTechKey  = "techkey"
	sessionTTL = 12 * time.Hour
)

// Errors; test with errors.Is. ErrBadCredentials covers both an unknown
// user and a wrong password, so callers cannot tell them apart.
var (
	ErrBadCredentials = errors.New("identity: wrong user name or password")
	ErrLocked         = errors.New("identity: account locked after repeated failures")
	ErrExists         = errors.New("identity: user already exists")
	ErrNoSession      = errors.New("identity: no such session")
	ErrWeakPassword   = errors.New("identity: password too short")
)

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 10

// argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes, one
// lane). RFC 9106's 64 MiB option would hold 64 MiB per concurrent login on
// a coordinator meant to run in well under 500 MB; existing hashes keep the
// parameters they were made with, so these can be raised later.
var hashParams = &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// dummyHash is verified when a user does not exist, so that an unknown name
// costs the same time as a wrong password. It was made with hashParams from
// a random string nobody kept; being a constant, it costs nothing at start.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$OiZWL29xldnOzS8N3Ts8gw$pMo6Pc723jYoupqqI/1EbaczsdvHbQcuC3xTcyZmS2A"

// User is a technician account.
type User struct {
	Name        string      `json:"name"`
	Role        policy.Role `json:"role"`
	Hash        string      `json:"hash"` // argon2id, PHC string format
	Created     time.Time   `json:"created"`
	Failures    int         `json:"failures"`
	LockedUntil time.Time   `json:"locked_until"`
	// Companies limits the machines the account sees and acts on (I2);
	// empty means every company.
	Companies policy.Scope `json:"companies,omitempty"`
}

// Session is an API session of a logged-in technician.
type Session struct {
	User      string       `json:"user"`
	Role      policy.Role  `json:"role"`
	Companies policy.Scope `json:"companies,omitempty"`
	Expires   time.Time    `json:"expires"`
}

// Accounts manages users and sessions.
type Accounts struct {
	db  store.DB
	now func() time.Time
	// hashing bounds concurrent argon2id runs: each takes 19 MiB.
	hashing chan struct{}
}

// maxConcurrentHashes bounds the memory password checks can take.
const maxConcurrentHashes = 4

// New returns Accounts over db; now is the clock (nil means time.Now).
func New(db store.DB, now func() time.Time) (*Accounts, error) {
	if now == nil {
		now = time.Now
	}
	return &Accounts{db: db, now: now, hashing: make(chan struct{}, maxConcurrentHashes)}, nil
}

// Create adds a user who works for every company.
func (a *Accounts) Create(name, password string, role policy.Role) error {
	return a.CreateScoped(name, password, role, nil)
}

// CreateScoped adds a user who sees and acts on the machines of companies
// only (every company if empty).
func (a *Accounts) CreateScoped(name, password string, role policy.Role, companies policy.Scope) error {
	for _, c := range companies {
		if c == "" || len(c) > wire.MaxMetadataField {
			return fmt.Errorf("identity.Create: company names must be 1..%d bytes", wire.MaxMetadataField)
		}
	}
	if err := wire.CheckName(name); err != nil {
		return fmt.Errorf("identity.Create: %w", err)
	}
	if !role.Valid() {
		return fmt.Errorf("identity.Create: unknown role %q", role)
	}
	if len(password) < MinPasswordLen {
		return fmt.Errorf("%w: at least %d characters", ErrWeakPassword, MinPasswordLen)
	}
	if len(password) > wire.MaxPasswordLen {
		return fmt.Errorf("identity.Create: password longer than %d bytes", wire.MaxPasswordLen)
	}
	a.hashing <- struct{}{}
	hash, err := argon2id.CreateHash(password, hashParams)
	<-a.hashing
	if err != nil {
		return fmt.Errorf("identity.Create: %w", err)
	}
	u := User{Name: name, Role: role, Hash: hash, Created: a.now().UTC(), Companies: companies}
	err = a.db.Update(func(tx store.Tx) error { return tx.Insert(nsUser, name, u) })
	if errors.Is(err, store.ErrExists) {
		return ErrExists
	}
	return err
}

// Count returns how many users exist.
func (a *Accounts) Count() (int, error) {
	n := 0
	err := a.db.View(func(tx store.Tx) error {
		return tx.Scan(nsUser, "", func(string, []byte) error { n++; return nil })
	})
	return n, err
}

// Get returns the user called name.
func (a *Accounts) Get(name string) (User, error) {
	var u User
	err := a.db.View(func(tx store.Tx) error { return tx.Get(nsUser, name, &u) })
	if errors.Is(err, store.ErrNotFound) {
		return User{}, ErrBadCredentials
	}
	return u, err
}

// Authenticate checks a password. After policy.MaxFailedLogins consecutive
// failures the account is locked for policy.LockoutDuration; while locked,
// even the right password is refused with ErrLocked.
func (a *Accounts) Authenticate(name, password string) (User, error) {
	if len(name) > wire.MaxNameLen || len(password) > wire.MaxPasswordLen {
		return User{}, ErrBadCredentials
	}
	u, err := a.Get(name)
	if errors.Is(err, ErrBadCredentials) {
		a.compare(password, dummyHash) //nolint:errcheck // timing only
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("identity.Authenticate: %w", err)
	}
	now := a.now()
	if now.Before(u.LockedUntil) {
		return User{}, fmt.Errorf("%w until %s", ErrLocked, u.LockedUntil.UTC().Format(time.RFC3339))
	}
	ok, err := a.compare(password, u.Hash)
	if err != nil {
		return User{}, fmt.Errorf("identity.Authenticate: %w", err)
	}
	var result error = ErrBadCredentials
	err = a.db.Update(func(tx store.Tx) error {
		var cur User
		if err := tx.Get(nsUser, name, &cur); err != nil {
			return err
		}
		if ok {
			cur.Failures, cur.LockedUntil, result = 0, time.Time{}, nil
		} else {
			cur.Failures++
			if cur.Failures >= policy.MaxFailedLogins {
				cur.Failures = 0
				cur.LockedUntil = now.Add(policy.LockoutDuration).UTC()
				result = fmt.Errorf("%w: %w until %s", ErrBadCredentials, ErrLocked, cur.LockedUntil.Format(time.RFC3339))
			}
		}
		u = cur
		return tx.Put(nsUser, name, cur)
	})
	if err != nil {
		return User{}, fmt.Errorf("identity.Authenticate: %w", err)
	}
	if result != nil {
		return User{}, result
	}
	return u, nil
}

func (a *Accounts) compare(password, hash string) (bool, error) {
	a.hashing <- struct{}{}
	defer func() { <-a.hashing }()
	return argon2id.ComparePasswordAndHash(password, hash)
}

// NewSession starts an API session for u and returns its bearer token.
func (a *Accounts) NewSession(u User) (token string, s Session, err error) {
	token = randomToken()
	s = Session{User: u.Name, Role: u.Role, Companies: u.Companies, Expires: a.now().Add(sessionTTL).UTC()}
	err = a.db.Update(func(tx store.Tx) error { return tx.Insert(nsSession, tokenKey(token), s) })
	return token, s, err
}

// Session resolves a bearer token to its session.
func (a *Accounts) Session(token string) (Session, error) {
	if len(token) != 64 {
		return Session{}, ErrNoSession
	}
	var s Session
	err := a.db.View(func(tx store.Tx) error { return tx.Get(nsSession, tokenKey(token), &s) })
	if errors.Is(err, store.ErrNotFound) || err == nil && !a.now().Before(s.Expires) {
		return Session{}, ErrNoSession
	}
	return s, err
}

// EndSession logs a session out.
func (a *Accounts) EndSession(token string) error {
	return a.db.Update(func(tx store.Tx) error { return tx.Delete(nsSession, tokenKey(token)) })
}

// techKey records that an overlay pre-auth key was minted for a technician.
type techKey struct {
	User    string    `json:"user"`
	Created time.Time `json:"created"`
}

// RecordOverlayKey remembers that overlay pre-auth key id belongs to user,
// so a viewer node that joined with it can be tied to that technician.
func (a *Accounts) RecordOverlayKey(id uint64, user string) error {
	return a.db.Update(func(tx store.Tx) error {
		return tx.Put(nsTechKey, strconv.FormatUint(id, 10), techKey{User: user, Created: a.now().UTC()})
	})
}

// OverlayKeyOwner returns the technician an overlay pre-auth key was minted
// for, or ErrNoSession.
func (a *Accounts) OverlayKeyOwner(id uint64) (string, error) {
	var k techKey
	err := a.db.View(func(tx store.Tx) error { return tx.Get(nsTechKey, strconv.FormatUint(id, 10), &k) })
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrNoSession
	}
	return k.User, err
}

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("identity: crypto/rand failed: " + err.Error()) // never fails on supported OSes
	}
	return hex.EncodeToString(b[:])
}

// tokenKey stores only a hash of a bearer token, so a copy of the store
// does not hand out live sessions.
func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
