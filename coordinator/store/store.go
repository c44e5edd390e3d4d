// Package store is the coordinator's record store: typed JSON records in
// namespaces, read and written in transactions.
//
// The embedded implementation is Badger with synchronous writes: a write is
// on disk before Update returns, so everything the coordinator acknowledges
// (enrollment tokens, devices, accounts, audit records) survives a crash.
// Secondary indexes are written in the same transaction as their record.
//
// Domain packages depend on the DB and Tx interfaces, not on Badger, so a
// replicated database can take Badger's place when a shop outgrows one
// machine (docs/ARCHITECTURE.md, "Scale").
package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Errors; test with errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
	ErrClosed   = errors.New("store: closed")
)

// DB runs transactions.
type DB interface {
	// Update runs fn in a read-write transaction and commits it durably
	// if fn returns nil. A transaction that conflicts with a concurrent
	// one is retried, so fn must not have side effects outside tx.
	Update(fn func(tx Tx) error) error
	// View runs fn in a read-only snapshot.
	View(fn func(tx Tx) error) error
}

// Tx is one transaction. Keys are (namespace, key) pairs; namespaces must
// not contain '/'. Values are JSON.
type Tx interface {
	// Get decodes the record into v, or returns ErrNotFound.
	Get(ns, key string, v any) error
	// Put stores v under (ns, key).
	Put(ns, key string, v any) error
	// Insert stores v under (ns, key) unless a record is already there,
	// in which case it returns ErrExists.
	Insert(ns, key string, v any) error
	// Delete removes (ns, key); deleting a missing record is no error.
	Delete(ns, key string) error
	// Scan calls fn for each record in ns whose key starts with prefix,
	// in key order, until fn returns an error (which Scan returns) or
	// ErrStop (which ends the scan cleanly).
	Scan(ns, prefix string, fn func(key string, value []byte) error) error
}

// ErrStop ends a Scan early without an error.
var ErrStop = errors.New("store: stop scan")

// MaxValue bounds a single record's encoded size.
const MaxValue = 1 << 20

func fullKey(ns, key string) ([]byte, error) {
	if ns == "" || strings.Contains(ns, "/") {
		return nil, fmt.Errorf("store: bad namespace %q", ns)
	}
	return []byte(ns + "/" + key), nil
}

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("store: encode: %w", err)
	}
	if len(b) > MaxValue {
		return nil, fmt.Errorf("store: record of %d bytes exceeds %d", len(b), MaxValue)
	}
	return b, nil
}

func decode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("store: decode: %w", err)
	}
	return nil
}
