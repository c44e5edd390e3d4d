// Package identity holds technician accounts and what proves who they are:
// argon2id password hashes, an atomic per-user lockout, TOTP second factors
// with single-use recovery codes, API sessions, API keys for integrations,
// and which overlay keys were minted for which technician.
//
// # Logging in
//
// [Accounts.Login] checks a password. Without TOTP it starts a session; with
// TOTP it returns [ErrSecondFactorNeeded] and a pending token that
// [Accounts.CompleteLogin] exchanges, with a code or a recovery code, for a
// session. When the shop requires TOTP for admins (policy.AccountRules), an
// admin without it gets a session that answers [ErrTOTPSetupRequired] until
// [Accounts.ConfirmTOTP] turns TOTP on.
//
// # Lockout
//
// Every failure (password, TOTP code, recovery code) counts toward one
// per-user limit (policy.MaxFailedLogins), and the lock check, the failure
// count and the success are decided in the same store transaction, so
// concurrent guesses cannot pass the limit and a right password while
// locked is refused and leaves the lock in place. Only a login that passed
// every factor resets the count.
//
// # Revocation
//
// Disabling or deleting a user, changing their password or role, and
// ending their sessions take effect at the next [Accounts.Session] or
// [Accounts.AuthenticateAPIKey] call: each reads the user's record (role,
// companies, disabled, the session epoch) in the same snapshot as the
// session. [Accounts.OnRevoke] tells the rest of the coordinator, so it can
// end live peer sessions.
//
// # Secrets at rest
//
// Passwords: argon2id. Session tokens, pending-login tokens, recovery codes
// and API key secrets: SHA-256 (each is at least 80 random bits, so a slow
// hash would add nothing). TOTP secrets: AES-256-GCM with a key kept outside
// the store (see [LoadOrCreateSealKey]), bound to the user. Nothing here
// logs, and the types that carry secrets redact themselves when printed.
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
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

const (
	nsUser     = "user"
	nsSession  = "session"
	nsUserSess = "usersess" // user + keySep + session token hash: a user's sessions, to end them all
	nsPending  = "pendlogin"
	nsTechKey  = "techkey"
	nsSettings = "acctrules"
	sessionTTL = 12 * time.Hour
	// PendingLoginTTL is how long a password-checked login waits for its
	// second factor.
	PendingLoginTTL = 5 * time.Minute
	keySep          = "\x1f" // between a user name and another key part (names never hold it)
)

// Errors; test with errors.Is. ErrBadCredentials covers both an unknown
// user and a wrong password, so callers cannot tell them apart.
var (
	ErrBadCredentials     = errors.New("identity: wrong user name or password")
	ErrLocked             = errors.New("identity: account locked after repeated failures")
	ErrExists             = errors.New("identity: user already exists")
	ErrNoSession          = errors.New("identity: no such session")
	ErrWeakPassword       = errors.New("identity: password too short")
	ErrNoUser             = errors.New("identity: no such user")
	ErrDisabled           = errors.New("identity: account disabled")
	ErrSecondFactorNeeded = errors.New("identity: second factor needed")
	ErrBadCode            = errors.New("identity: wrong or used code")
	ErrNoPendingLogin     = errors.New("identity: login expired; enter the password again")
	ErrTOTPSetupRequired  = errors.New("identity: this account must set up two-factor authentication first")
	ErrTOTPEnabled        = errors.New("identity: two-factor authentication is already on")
	ErrTOTPNotEnabled     = errors.New("identity: two-factor authentication is not on")
	ErrNoSealKey          = errors.New("identity: no key to seal TOTP secrets (see LoadOrCreateSealKey)")
	ErrLastAdmin          = errors.New("identity: the last enabled admin cannot be disabled, deleted or demoted")
	ErrCorrupt            = errors.New("identity: corrupt record")
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

// User is a technician account as stored. It holds the password hash and
// the sealed TOTP secret; it prints without them.
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
	// ID is random per account, so a name deleted and created again
	// inherits no session or API key (empty for accounts made before it).
	ID string `json:"id,omitempty"`
	// Epoch is bumped to end every session of the account at once.
	Epoch    uint64    `json:"epoch,omitempty"`
	Disabled bool      `json:"disabled,omitempty"`
	TOTP     TOTPState `json:"totp,omitzero"`
}

// LogValue implements slog.LogValuer: the account without its secrets.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", u.Name), slog.String("role", string(u.Role)),
		slog.Bool("disabled", u.Disabled), slog.Bool("totp", u.TOTP.Enabled))
}

// String prints the account without its secrets.
func (u User) String() string {
	return fmt.Sprintf("user %s (%s, disabled=%v, totp=%v)", u.Name, u.Role, u.Disabled, u.TOTP.Enabled)
}

// GoString is String, so %#v prints no secret either.
func (u User) GoString() string { return u.String() }

// Session is a logged-in technician (or an API key acting for one). Role
// and Companies are the account's as they are now, read with the session.
type Session struct {
	User      string       `json:"user"`
	Role      policy.Role  `json:"role"`
	Companies policy.Scope `json:"companies,omitempty"`
	Expires   time.Time    `json:"expires"`
	// APIKey is the id of the API key that authenticated this request;
	// empty for a login.
	APIKey string `json:"api_key,omitempty"`
}

// sessionRec is a stored session, keyed by the hash of its token.
type sessionRec struct {
	User    string    `json:"user"`
	UID     string    `json:"uid,omitempty"`
	Epoch   uint64    `json:"epoch,omitempty"`
	Expires time.Time `json:"expires"`
}

// Accounts manages users, sessions and API keys.
type Accounts struct {
	db      store.DB
	now     func() time.Time
	sealKey []byte // nil: TOTP cannot be set up
	issuer  string
	// hashing bounds concurrent argon2id runs: each takes 19 MiB.
	hashing chan struct{}

	mu       sync.Mutex
	nextSub  int
	revokeTo map[int]func(Revocation)
}

// maxConcurrentHashes bounds the memory password checks can take.
const maxConcurrentHashes = 4

// An Option configures Accounts.
type Option func(*Accounts) error

// WithSealKey gives the 32-byte key that seals TOTP secrets in the store
// (from [LoadOrCreateSealKey]). Without it, TOTP cannot be set up.
func WithSealKey(key []byte) Option {
	return func(a *Accounts) error {
		if len(key) != sealKeyLen {
			return fmt.Errorf("seal key of %d bytes, want %d", len(key), sealKeyLen)
		}
		a.sealKey = append([]byte(nil), key...)
		return nil
	}
}

// WithIssuer names the shop in authenticator apps (default "peerdesk").
func WithIssuer(name string) Option {
	return func(a *Accounts) error {
		if name == "" || len(name) > wire.MaxMetadataField {
			return fmt.Errorf("issuer must be 1..%d bytes", wire.MaxMetadataField)
		}
		a.issuer = name
		return nil
	}
}

// New returns Accounts over db; now is the clock (nil means time.Now).
func New(db store.DB, now func() time.Time, opts ...Option) (*Accounts, error) {
	if now == nil {
		now = time.Now
	}
	a := &Accounts{db: db, now: now, issuer: "peerdesk", hashing: make(chan struct{}, maxConcurrentHashes),
		revokeTo: map[int]func(Revocation){}}
	for _, o := range opts {
		if err := o(a); err != nil {
			return nil, fmt.Errorf("identity.New: %w", err)
		}
	}
	return a, nil
}

// Create adds a user who works for every company.
func (a *Accounts) Create(name, password string, role policy.Role) error {
	return a.CreateScoped(name, password, role, nil)
}

// CreateScoped adds a user who sees and acts on the machines of companies
// only (every company if empty).
func (a *Accounts) CreateScoped(name, password string, role policy.Role, companies policy.Scope) error {
	if err := checkAccount(name, role, companies); err != nil {
		return fmt.Errorf("identity.Create: %w", err)
	}
	hash, err := a.hashPassword(password)
	if err != nil {
		return fmt.Errorf("identity.Create: %w", err)
	}
	u := User{Name: name, Role: role, Hash: hash, Created: a.now().UTC(), Companies: companies, ID: randomHex(16)}
	err = a.db.Update(func(tx store.Tx) error { return tx.Insert(nsUser, name, u) })
	if errors.Is(err, store.ErrExists) {
		return ErrExists
	}
	return err
}

func checkAccount(name string, role policy.Role, companies policy.Scope) error {
	if err := wire.CheckName(name); err != nil {
		return err
	}
	if !role.Valid() {
		return fmt.Errorf("unknown role %q", role)
	}
	return checkCompanies(companies)
}

func checkCompanies(companies policy.Scope) error {
	if len(companies) > maxCompanies {
		return fmt.Errorf("at most %d companies", maxCompanies)
	}
	for _, c := range companies {
		if c == "" || len(c) > wire.MaxMetadataField {
			return fmt.Errorf("company names must be 1..%d bytes", wire.MaxMetadataField)
		}
	}
	return nil
}

// maxCompanies bounds an account's (or API key's) company list.
const maxCompanies = 100

func (a *Accounts) hashPassword(password string) (string, error) {
	if len(password) < MinPasswordLen {
		return "", fmt.Errorf("%w: at least %d characters", ErrWeakPassword, MinPasswordLen)
	}
	if len(password) > wire.MaxPasswordLen {
		return "", fmt.Errorf("password longer than %d bytes", wire.MaxPasswordLen)
	}
	a.hashing <- struct{}{}
	defer func() { <-a.hashing }()
	return argon2id.CreateHash(password, hashParams)
}

// Count returns how many users exist.
func (a *Accounts) Count() (int, error) {
	n := 0
	err := a.db.View(func(tx store.Tx) error {
		return tx.Scan(nsUser, "", func(string, []byte) error { n++; return nil })
	})
	return n, err
}

// Get returns the user called name; an unknown name is both ErrNoUser and
// ErrBadCredentials.
func (a *Accounts) Get(name string) (User, error) {
	var u User
	err := a.db.View(func(tx store.Tx) error {
		var err error
		u, err = getUser(tx, name)
		return err
	})
	return u, err
}

// getUser reads and checks a user record.
func getUser(tx store.Tx, name string) (User, error) {
	var u User
	err := tx.Get(nsUser, name, &u)
	if errors.Is(err, store.ErrNotFound) {
		return User{}, fmt.Errorf("%w: %w", ErrNoUser, ErrBadCredentials)
	}
	if err != nil {
		return User{}, err
	}
	if err := u.check(); err != nil {
		return User{}, err
	}
	if u.Name != name {
		return User{}, fmt.Errorf("%w: user record %q holds %q", ErrCorrupt, name, u.Name)
	}
	return u, nil
}

// Authenticate checks a password, the first factor. After
// policy.MaxFailedLogins consecutive failures the account is locked for
// policy.LockoutDuration; while locked, even the right password is refused
// with ErrLocked. For an account with TOTP on, the right password returns
// the user and ErrSecondFactorNeeded (use Login and CompleteLogin to log
// in); a disabled account's right password returns ErrBadCredentials and
// ErrDisabled.
func (a *Accounts) Authenticate(name, password string) (User, error) {
	var needTOTP bool
	u, err := a.firstFactor(name, password, func(_ store.Tx, u *User) error {
		needTOTP = u.TOTP.Enabled
		return nil
	})
	if err != nil {
		return User{}, err
	}
	if needTOTP {
		return u, ErrSecondFactorNeeded
	}
	return u, nil
}

// firstFactor checks name's password. The check of the lock, the failure
// count and the success are one transaction (M2); then runs in it after a
// right password on an enabled, unlocked account, and may write.
func (a *Accounts) firstFactor(name, password string, then func(tx store.Tx, u *User) error) (User, error) {
	if len(name) > wire.MaxNameLen || len(password) > wire.MaxPasswordLen {
		return User{}, ErrBadCredentials
	}
	seen, err := a.Get(name)
	if errors.Is(err, ErrNoUser) {
		a.compare(password, dummyHash) //nolint:errcheck // timing only
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("identity.Authenticate: %w", err)
	}
	now := a.now()
	// A cheap early answer for a locked account, so guesses at it cost no
	// hash. It decides nothing: the transaction below checks again.
	if now.Before(seen.LockedUntil) {
		return User{}, lockedErr(seen.LockedUntil)
	}
	ok, err := a.compare(password, seen.Hash)
	if err != nil {
		return User{}, fmt.Errorf("identity.Authenticate: %w", err)
	}
	var (
		result error
		out    User
	)
	err = a.db.Update(func(tx store.Tx) error {
		result, out = nil, User{}
		cur, err := getUser(tx, name)
		if errors.Is(err, ErrNoUser) {
			result = ErrBadCredentials // deleted meanwhile
			return nil
		}
		if err != nil {
			return err
		}
		if now.Before(cur.LockedUntil) {
			result = lockedErr(cur.LockedUntil)
			return nil
		}
		if cur.Hash != seen.Hash || cur.ID != seen.ID {
			// The password changed (or the account was made again)
			// while we hashed: what we checked is no longer it.
			result = ErrBadCredentials
			return nil
		}
		if !ok {
			result = countFailure(&cur, now)
			return tx.Put(nsUser, name, cur)
		}
		if cur.Disabled {
			result = fmt.Errorf("%w: %w", ErrBadCredentials, ErrDisabled)
			return nil
		}
		// Only a login that passed every factor resets the count: with
		// TOTP on, a known password must not buy more code guesses.
		if !cur.TOTP.Enabled && (cur.Failures != 0 || !cur.LockedUntil.IsZero()) {
			cur.Failures, cur.LockedUntil = 0, time.Time{}
			if err := tx.Put(nsUser, name, cur); err != nil {
				return err
			}
		}
		if err := then(tx, &cur); err != nil {
			return err
		}
		out = cur
		return nil
	})
	if err != nil {
		return User{}, fmt.Errorf("identity.Authenticate: %w", err)
	}
	if result != nil {
		return User{}, result
	}
	return out, nil
}

// countFailure counts one failed factor on u (to be written by the
// caller) and returns the error to answer with: ErrBadCredentials, and
// ErrLocked too for the failure that locks the account.
func countFailure(u *User, now time.Time) error {
	u.Failures++
	if u.Failures >= policy.MaxFailedLogins {
		u.Failures = 0
		u.LockedUntil = now.Add(policy.LockoutDuration).UTC()
		return fmt.Errorf("%w: %w", ErrBadCredentials, lockedErr(u.LockedUntil))
	}
	return ErrBadCredentials
}

func lockedErr(until time.Time) error {
	return fmt.Errorf("%w until %s", ErrLocked, until.UTC().Format(time.RFC3339))
}

func (a *Accounts) compare(password, hash string) (bool, error) {
	a.hashing <- struct{}{}
	defer func() { <-a.hashing }()
	return argon2id.ComparePasswordAndHash(password, hash)
}

// NewSession starts an API session for the account u.Name (its role and
// companies are read from the store, not from u) and returns its bearer
// token. It is for callers that have checked every factor: it refuses an
// unknown or disabled account and one with TOTP on (use Login).
func (a *Accounts) NewSession(u User) (token string, s Session, err error) {
	err = a.db.Update(func(tx store.Tx) error {
		cur, err := getUser(tx, u.Name)
		if err != nil {
			return err
		}
		if cur.Disabled {
			return ErrDisabled
		}
		if cur.TOTP.Enabled {
			return ErrSecondFactorNeeded
		}
		token, s, err = a.newSession(tx, cur)
		return err
	})
	if err != nil {
		return "", Session{}, fmt.Errorf("identity.NewSession: %w", err)
	}
	return token, s, nil
}

// newSession writes a session of u in tx.
func (a *Accounts) newSession(tx store.Tx, u User) (string, Session, error) {
	token := randomHex(32)
	r := sessionRec{User: u.Name, UID: u.ID, Epoch: u.Epoch, Expires: a.now().Add(sessionTTL).UTC()}
	if err := tx.Insert(nsSession, tokenKey(token), r); err != nil {
		return "", Session{}, err
	}
	if err := tx.Put(nsUserSess, u.Name+keySep+tokenKey(token), r.Expires); err != nil {
		return "", Session{}, err
	}
	return token, Session{User: u.Name, Role: u.Role, Companies: u.Companies, Expires: r.Expires}, nil
}

// Session resolves a bearer token to its session. It refuses (ErrNoSession)
// an expired token and every session of an account that was disabled,
// deleted, or whose sessions were ended since. For an account that must
// set up TOTP first (policy.TOTPRequired) it returns the session and
// ErrTOTPSetupRequired: such a session may only set up TOTP.
func (a *Accounts) Session(token string) (Session, error) {
	if len(token) != 64 {
		return Session{}, ErrNoSession
	}
	var (
		s     Session
		setup bool
	)
	err := a.db.View(func(tx store.Tx) error {
		var r sessionRec
		if err := tx.Get(nsSession, tokenKey(token), &r); err != nil {
			return err
		}
		if !a.now().Before(r.Expires) {
			return ErrNoSession
		}
		u, err := getUser(tx, r.User)
		if errors.Is(err, ErrNoUser) {
			return ErrNoSession
		}
		if err != nil {
			return err
		}
		if u.Disabled || u.ID != r.UID || u.Epoch != r.Epoch {
			return ErrNoSession
		}
		rules, err := accountRules(tx)
		if err != nil {
			return err
		}
		s = Session{User: u.Name, Role: u.Role, Companies: u.Companies, Expires: r.Expires}
		setup = policy.TOTPRequired(u.Role, rules) && !u.TOTP.Enabled
		return nil
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrNoSession) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("identity.Session: %w", err)
	}
	if setup {
		return s, ErrTOTPSetupRequired
	}
	return s, nil
}

// EndSession logs a session out.
func (a *Accounts) EndSession(token string) error {
	return a.db.Update(func(tx store.Tx) error {
		var r sessionRec
		err := tx.Get(nsSession, tokenKey(token), &r)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := tx.Delete(nsUserSess, r.User+keySep+tokenKey(token)); err != nil {
			return err
		}
		return tx.Delete(nsSession, tokenKey(token))
	})
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

// AccountRules returns the shop's account settings.
func (a *Accounts) AccountRules() (policy.AccountRules, error) {
	var r policy.AccountRules
	err := a.db.View(func(tx store.Tx) error {
		var err error
		r, err = accountRules(tx)
		return err
	})
	return r, err
}

// SetAccountRules changes the shop's account settings; they apply to
// every session at its next lookup.
func (a *Accounts) SetAccountRules(r policy.AccountRules) error {
	return a.db.Update(func(tx store.Tx) error { return tx.Put(nsSettings, "rules", r) })
}

func accountRules(tx store.Tx) (policy.AccountRules, error) {
	var r policy.AccountRules
	err := tx.Get(nsSettings, "rules", &r)
	if errors.Is(err, store.ErrNotFound) {
		return policy.AccountRules{}, nil
	}
	return r, err
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("identity: crypto/rand failed: " + err.Error()) // never fails on supported OSes
	}
	return hex.EncodeToString(b)
}

// tokenKey stores only a hash of a bearer token, so a copy of the store
// does not hand out live sessions.
func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
