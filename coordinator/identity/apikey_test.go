package identity

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
)

func TestAPIKeys(t *testing.T) {
	leak.Check(t)
	db, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a, c := setupOver(t, db)
	got := revocations(t, a)
	if err := a.Add("tina", "correct horse battery", policy.RoleTechnician, policy.Scope{"acme", "globex"}); err != nil {
		t.Fatal(err)
	}
	res, err := a.Login("tina", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	tina := res.Session
	key, info, err := a.CreateAPIKey(tina, "ticketing", policy.RoleViewer, policy.Scope{"acme"}, c.Now().Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, APIKeyPrefix) || len(key) != apiKeyLen || info.Owner != "tina" {
		t.Fatalf("key %d bytes, %+v", len(key), info)
	}
	s, err := a.AuthenticateAPIKey(key)
	if err != nil || s.User != "tina" || s.Role != policy.RoleViewer || s.APIKey != info.ID || len(s.Companies) != 1 {
		t.Fatalf("AuthenticateAPIKey = %+v, %v", s, err)
	}
	// Stored hashed: neither the key nor its secret is in the store.
	_, secret, _ := parseAPIKey(key)
	dump := dumpStore(t, db)
	if bytes.Contains(dump, []byte(key)) || bytes.Contains(dump, secret) || bytes.Contains(dump, []byte(key[len(APIKeyPrefix)+apiKeyIDLen+1:])) {
		t.Fatal("store holds the key in clear")
	}
	// Refusals: more than the creator, outside its companies, forever, by a key.
	for name, try := range map[string]func() error{
		"higher role": func() error {
			_, _, err := a.CreateAPIKey(tina, "x", policy.RoleSenior, policy.Scope{"acme"}, time.Time{})
			return err
		},
		"other company": func() error {
			_, _, err := a.CreateAPIKey(tina, "x", policy.RoleViewer, policy.Scope{"initech"}, time.Time{})
			return err
		},
		"every company": func() error {
			_, _, err := a.CreateAPIKey(tina, "x", policy.RoleViewer, nil, time.Time{})
			return err
		},
		"too long": func() error {
			_, _, err := a.CreateAPIKey(tina, "x", policy.RoleViewer, policy.Scope{"acme"}, c.Now().Add(policy.MaxAPIKeyLifetime+time.Hour))
			return err
		},
		"past": func() error {
			_, _, err := a.CreateAPIKey(tina, "x", policy.RoleViewer, policy.Scope{"acme"}, c.Now().Add(-time.Hour))
			return err
		},
		"by a key": func() error {
			_, _, err := a.CreateAPIKey(s, "x", policy.RoleViewer, policy.Scope{"acme"}, time.Time{})
			return err
		},
		"no name": func() error {
			_, _, err := a.CreateAPIKey(tina, " ", policy.RoleViewer, policy.Scope{"acme"}, time.Time{})
			return err
		},
		"session of a deleted user": func() error {
			_, _, err := a.CreateAPIKey(Session{User: "ghost", Role: policy.RoleAdmin}, "x", policy.RoleViewer, nil, time.Time{})
			return err
		},
	} {
		if err := try(); err == nil {
			t.Errorf("%s: created", name)
		}
	}
	for name, k := range map[string]string{
		"tampered secret": key[:len(key)-2] + "AA",
		"unknown id":      APIKeyPrefix + "0000000000000000" + key[len(APIKeyPrefix)+apiKeyIDLen:],
		"no prefix":       "xyz_" + key[4:],
		"short":           key[:40],
	} {
		if k == key {
			continue
		}
		if _, err := a.AuthenticateAPIKey(k); !errors.Is(err, ErrNoSession) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Listed without secret; revoked only by its owner or an admin.
	list, err := a.APIKeys("tina")
	if err != nil || len(list) != 1 || !cmp.Equal(list[0], info) {
		t.Fatalf("APIKeys = %+v, %v", list, err)
	}
	if err := a.Add("olga", "correct horse battery", policy.RoleSenior, nil); err != nil {
		t.Fatal(err)
	}
	olga, _ := a.Login("olga", "correct horse battery")
	if _, err := a.RevokeAPIKey(olga.Session, info.ID); !errors.Is(err, ErrNoAPIKey) {
		t.Fatalf("revoked by another senior: %v", err)
	}
	if r, err := a.RevokeAPIKey(tina, info.ID); err != nil || r.ID != info.ID {
		t.Fatalf("RevokeAPIKey = %+v, %v", r, err)
	}
	if _, err := a.AuthenticateAPIKey(key); !errors.Is(err, ErrNoSession) {
		t.Fatalf("revoked key: %v", err)
	}
	if len(*got) != 1 || (*got)[0] != (Revocation{User: "tina", Reason: RevokeAPIKey, APIKey: info.ID}) {
		t.Fatalf("revocations %+v", *got)
	}
	// Keys expire; an admin revokes anyone's.
	key2, info2, err := a.CreateAPIKey(tina, "short-lived", policy.RoleTechnician, policy.Scope{"globex"}, c.Now().Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(2 * time.Hour)
	if _, err := a.AuthenticateAPIKey(key2); !errors.Is(err, ErrNoSession) {
		t.Fatalf("expired key: %v", err)
	}
	admin, _ := a.Login("alice", "correct horse battery")
	if _, err := a.RevokeAPIKey(admin.Session, info2.ID); err != nil {
		t.Fatalf("admin revoke: %v", err)
	}
}

func TestAPIKeyLimit(t *testing.T) {
	leak.Check(t)
	a, c := setup(t)
	admin, err := a.Login("alice", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	for i := range policy.MaxAPIKeysPerUser {
		exp := time.Time{}
		if i == 0 {
			exp = c.Now().Add(time.Hour)
		}
		if _, _, err := a.CreateAPIKey(admin.Session, "k", policy.RoleViewer, nil, exp); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := a.CreateAPIKey(admin.Session, "k", policy.RoleViewer, nil, time.Time{}); !errors.Is(err, ErrTooManyAPIKeys) {
		t.Fatalf("key %d: %v", policy.MaxAPIKeysPerUser+1, err)
	}
	// An expired key makes room.
	c.Advance(time.Hour)
	if _, _, err := a.CreateAPIKey(admin.Session, "k", policy.RoleViewer, nil, time.Time{}); err != nil {
		t.Fatalf("after one expired: %v", err)
	}
}
