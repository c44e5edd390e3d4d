package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/policy"
)

// API keys for integrations: pdk_<id>_<secret>, where id is 8 random bytes
// in hex (public: listed, named in the audit trail) and secret 32 random
// bytes in unpadded base64url. The store keeps SHA-256 of the secret only:
// 256 random bits cannot be guessed, so a slow hash would add nothing but
// cost on every request, and a copy of the store hands out no key.
const (
	APIKeyPrefix  = "pdk_"
	apiKeyIDLen   = 16 // hex characters
	apiKeySecretN = 32 // bytes
	apiKeyLen     = len(APIKeyPrefix) + apiKeyIDLen + 1 + 43
	nsAPIKey      = "apikey"
	nsUserKey     = "userkey" // owner + keySep + id
	MaxAPIKeyName = 64
)

// API key errors; test with errors.Is.
var (
	ErrNoAPIKey        = errors.New("identity: no such API key")
	ErrTooManyAPIKeys  = errors.New("identity: too many API keys")
	ErrKeyMintsNoKey   = errors.New("identity: an API key cannot create API keys")
	ErrBadAPIKeyExpiry = errors.New("identity: an API key must expire")
)

// APIKey describes an API key, without its secret.
type APIKey struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Owner     string       `json:"owner"`
	Role      policy.Role  `json:"role"`
	Companies policy.Scope `json:"companies,omitempty"`
	Created   time.Time    `json:"created"`
	Expires   time.Time    `json:"expires"`
}

type apiKeyRec struct {
	APIKey
	OwnerUID string `json:"owner_uid,omitempty"`
	Hash     string `json:"hash"` // SHA-256 of the secret, hex
}

var b64 = base64.RawURLEncoding

// parseAPIKey splits a presented key into its id and secret.
func parseAPIKey(key string) (id string, secret []byte, ok bool) {
	if len(key) != apiKeyLen || !strings.HasPrefix(key, APIKeyPrefix) {
		return "", nil, false
	}
	rest := key[len(APIKeyPrefix):]
	id, enc := rest[:apiKeyIDLen], rest[apiKeyIDLen+1:]
	if rest[apiKeyIDLen] != '_' {
		return "", nil, false
	}
	if b, err := hex.DecodeString(id); err != nil || len(b) != apiKeyIDLen/2 || strings.ToLower(id) != id {
		return "", nil, false
	}
	secret, err := b64.Strict().DecodeString(enc)
	if err != nil || len(secret) != apiKeySecretN {
		return "", nil, false
	}
	return id, secret, true
}

func secretHash(secret []byte) string {
	sum := sha256.Sum256(secret)
	return hex.EncodeToString(sum[:])
}

// CreateAPIKey makes an API key for creator's account, called name, acting
// with role over companies until expires (zero: policy's default
// lifetime), and returns it: shown once, never stored. The key may not be
// more powerful than its owner (policy.APIKeyDelegation), nor outlive
// policy.MaxAPIKeyLifetime; an API key cannot create keys.
func (a *Accounts) CreateAPIKey(creator Session, name string, role policy.Role, companies policy.Scope, expires time.Time) (string, APIKey, error) {
	fail := func(err error) (string, APIKey, error) {
		return "", APIKey{}, fmt.Errorf("identity.CreateAPIKey: %w", err)
	}
	if creator.APIKey != "" {
		return fail(ErrKeyMintsNoKey)
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > MaxAPIKeyName || strings.ContainsFunc(name, unicode.IsControl) {
		return fail(fmt.Errorf("a key's name is 1..%d printable characters", MaxAPIKeyName))
	}
	if err := checkCompanies(companies); err != nil {
		return fail(err)
	}
	now := a.now().UTC()
	if expires.IsZero() {
		expires = now.Add(policy.DefaultAPIKeyLifetime)
	}
	if _, err := policy.APIKeyLifetime(expires.Sub(now)); err != nil {
		return fail(fmt.Errorf("%w: %w", ErrBadAPIKeyExpiry, err))
	}
	idb := make([]byte, apiKeyIDLen/2)
	secret := make([]byte, apiKeySecretN)
	if _, err := rand.Read(idb); err != nil {
		return fail(err)
	}
	if _, err := rand.Read(secret); err != nil {
		return fail(err)
	}
	id := hex.EncodeToString(idb)
	info := APIKey{ID: id, Name: name, Owner: creator.User, Role: role, Companies: companies, Created: now, Expires: expires.UTC()}
	err := a.db.Update(func(tx store.Tx) error {
		u, err := getUser(tx, creator.User)
		if err != nil {
			return err
		}
		if u.Disabled {
			return ErrDisabled
		}
		if err := policy.APIKeyDelegation(u.Role, u.Companies, role, companies); err != nil {
			return err
		}
		ids, err := keysOf(tx, u.Name)
		if err != nil {
			return err
		}
		live := 0
		for _, kid := range ids {
			var r apiKeyRec
			if err := tx.Get(nsAPIKey, kid, &r); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if !now.Before(r.Expires) {
				if err := deleteKey(tx, u.Name, kid); err != nil { // expired: tidy up
					return err
				}
				continue
			}
			live++
		}
		if live >= policy.MaxAPIKeysPerUser {
			return fmt.Errorf("%w: at most %d per account", ErrTooManyAPIKeys, policy.MaxAPIKeysPerUser)
		}
		if err := tx.Insert(nsAPIKey, id, apiKeyRec{APIKey: info, OwnerUID: u.ID, Hash: secretHash(secret)}); err != nil {
			return err
		}
		return tx.Put(nsUserKey, u.Name+keySep+id, id)
	})
	if err != nil {
		return fail(err)
	}
	return APIKeyPrefix + id + "_" + b64.EncodeToString(secret), info, nil
}

// AuthenticateAPIKey resolves a presented API key to a Session whose
// APIKey names the key. It refuses (ErrNoSession) a malformed, unknown,
// revoked or expired key, a key whose owner is disabled or deleted, and a
// key its owner may no longer hand out (the owner was demoted or lost a
// company).
func (a *Accounts) AuthenticateAPIKey(key string) (Session, error) {
	id, secret, ok := parseAPIKey(key)
	if !ok {
		return Session{}, ErrNoSession
	}
	var s Session
	err := a.db.View(func(tx store.Tx) error {
		var r apiKeyRec
		if err := tx.Get(nsAPIKey, id, &r); err != nil {
			return err
		}
		if subtle.ConstantTimeCompare([]byte(secretHash(secret)), []byte(r.Hash)) != 1 {
			return ErrNoSession
		}
		if !a.now().Before(r.Expires) {
			return ErrNoSession
		}
		u, err := getUser(tx, r.Owner)
		if errors.Is(err, ErrNoUser) {
			return ErrNoSession
		}
		if err != nil {
			return err
		}
		if u.Disabled || u.ID != r.OwnerUID || policy.APIKeyDelegation(u.Role, u.Companies, r.Role, r.Companies) != nil {
			return ErrNoSession
		}
		s = Session{User: u.Name, Role: r.Role, Companies: r.Companies, Expires: r.Expires, APIKey: r.ID}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrNoSession) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("identity.AuthenticateAPIKey: %w", err)
	}
	return s, nil
}

// APIKeys lists the keys of owner ("" for every account's), expired ones
// included, without secrets.
func (a *Accounts) APIKeys(owner string) ([]APIKey, error) {
	var out []APIKey
	err := a.db.View(func(tx store.Tx) error {
		if owner == "" {
			recs, err := store.All[apiKeyRec](tx, nsAPIKey, "")
			for _, r := range recs {
				out = append(out, r.APIKey)
			}
			return err
		}
		ids, err := keysOf(tx, owner)
		if err != nil {
			return err
		}
		for _, id := range ids {
			var r apiKeyRec
			if err := tx.Get(nsAPIKey, id, &r); err != nil {
				return err
			}
			out = append(out, r.APIKey)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("identity.APIKeys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey deletes key id for by, who must own it or be allowed to
// manage users; it returns the key revoked, for the audit trail.
func (a *Accounts) RevokeAPIKey(by Session, id string) (APIKey, error) {
	var r apiKeyRec
	err := a.db.Update(func(tx store.Tx) error {
		err := tx.Get(nsAPIKey, id, &r)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoAPIKey
		}
		if err != nil {
			return err
		}
		if r.Owner != by.User || by.APIKey != "" && by.APIKey != id {
			if err := policy.Allow(by.Role, policy.ActionManageUsers); err != nil {
				return ErrNoAPIKey // another's key reads as absent
			}
		}
		return deleteKey(tx, r.Owner, id)
	})
	if err != nil {
		return APIKey{}, fmt.Errorf("identity.RevokeAPIKey: %w", err)
	}
	a.revoked(Revocation{User: r.Owner, Reason: RevokeAPIKey, APIKey: id})
	return r.APIKey, nil
}

// LogValue implements slog.LogValuer (an APIKey holds no secret, but its
// id is all a log needs).
func (k APIKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("owner", k.Owner), slog.String("role", string(k.Role)))
}

func keysOf(tx store.Tx, owner string) ([]string, error) {
	var ids []string
	err := tx.Scan(nsUserKey, owner+keySep, func(k string, _ []byte) error {
		ids = append(ids, k[len(owner)+len(keySep):])
		return nil
	})
	return ids, err
}

func deleteKey(tx store.Tx, owner, id string) error {
	if err := tx.Delete(nsAPIKey, id); err != nil {
		return err
	}
	return tx.Delete(nsUserKey, owner+keySep+id)
}
