// Package consentrules keeps the shop's consent rules (policy.ConsentRules:
// which capabilities need the end user's answer, by default, per company
// and per device) in the coordinator's store.
//
// It only stores: who may read or change the rules, the audit trail and
// the delivery to agents are package desk's.
package consentrules

import (
	"errors"
	"fmt"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/policy"
)

const (
	ns  = "consentrules"
	key = "shop"
)

// record is the stored rules.
type record struct {
	Rules   policy.ConsentRules `json:"rules"`
	Changed time.Time           `json:"changed"`
}

// Store keeps the shop's consent rules. Its methods are safe for
// concurrent use.
type Store struct {
	db  store.DB
	now func() time.Time
}

// New returns a Store over db; now stamps changes (nil means time.Now).
func New(db store.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now}
}

// Get returns the shop's rules and whether it has any; a shop without
// rules leaves each agent its own default.
func (s *Store) Get() (policy.ConsentRules, bool, error) {
	var r record
	err := s.db.View(func(tx store.Tx) error { return tx.Get(ns, key, &r) })
	switch {
	case errors.Is(err, store.ErrNotFound):
		return policy.ConsentRules{}, false, nil
	case err != nil:
		return policy.ConsentRules{}, false, fmt.Errorf("consentrules.Get: %w", err)
	}
	// What is stored was checked when it was set; a store edited by hand
	// is not trusted further than that.
	if err := r.Rules.Check(); err != nil {
		return policy.ConsentRules{}, false, fmt.Errorf("consentrules.Get: the stored rules: %w", err)
	}
	return r.Rules, true, nil
}

// Set replaces the shop's rules with r, once r passes its Check (and fits
// a record of the store).
func (s *Store) Set(r policy.ConsentRules) error {
	if err := r.Check(); err != nil {
		return fmt.Errorf("consentrules.Set: %w", err)
	}
	rec := record{Rules: r, Changed: s.now().UTC()}
	if err := s.db.Update(func(tx store.Tx) error { return tx.Put(ns, key, rec) }); err != nil {
		return fmt.Errorf("consentrules.Set: %w", err)
	}
	return nil
}

// Clear removes the shop's rules: each agent's own default applies again.
func (s *Store) Clear() error {
	if err := s.db.Update(func(tx store.Tx) error { return tx.Delete(ns, key) }); err != nil {
		return fmt.Errorf("consentrules.Clear: %w", err)
	}
	return nil
}
