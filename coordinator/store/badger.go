package store

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Badger is the embedded DB.
type Badger struct {
	db *badger.DB
}

// Open opens (or creates) a Badger store in dir with synchronous writes and
// memory bounds sized for one small coordinator.
func Open(dir string, log *slog.Logger) (*Badger, error) {
	b, err := openBadger(badger.DefaultOptions(dir).WithSyncWrites(true), log)
	if err != nil {
		return nil, fmt.Errorf("store.Open: %w", err)
	}
	return b, nil
}

// OpenInMemory opens an empty Badger store that lives in memory only and
// is gone once closed: nothing touches the disk. It is for tests and fuzz
// targets that need a real store at the speed of memory.
func OpenInMemory(log *slog.Logger) (*Badger, error) {
	b, err := openBadger(badger.DefaultOptions("").WithInMemory(true), log)
	if err != nil {
		return nil, fmt.Errorf("store.OpenInMemory: %w", err)
	}
	return b, nil
}

func openBadger(opts badger.Options, log *slog.Logger) (*Badger, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := badger.Open(opts.
		WithLogger(badgerLog{log.With("component", "badger")}).
		WithMemTableSize(16 << 20).
		WithNumMemtables(2).
		WithBlockCacheSize(32 << 20).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2))
	if err != nil {
		return nil, err
	}
	return &Badger{db: db}, nil
}

// Close flushes and closes the store.
func (b *Badger) Close() error { return b.db.Close() }

const maxRetries = 200

// Update implements DB.
func (b *Badger) Update(fn func(tx Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := b.db.Update(func(txn *badger.Txn) error { return fn(badgerTx{txn}) })
		if errors.Is(err, badger.ErrConflict) && attempt < maxRetries {
			// Back off a little, with jitter, so contending writers
			// stop colliding.
			time.Sleep(time.Duration(rand.IntN(1+min(attempt, 10))) * time.Millisecond)
			continue
		}
		return mapErr(err)
	}
}

// View implements DB.
func (b *Badger) View(fn func(tx Tx) error) error {
	return mapErr(b.db.View(func(txn *badger.Txn) error { return fn(badgerTx{txn}) }))
}

func mapErr(err error) error {
	if errors.Is(err, badger.ErrDBClosed) {
		return ErrClosed
	}
	return err
}

type badgerTx struct{ txn *badger.Txn }

func (t badgerTx) Get(ns, key string, v any) error {
	k, err := fullKey(ns, key)
	if err != nil {
		return err
	}
	item, err := t.txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: get %s/%s: %w", ns, key, err)
	}
	return item.Value(func(b []byte) error { return decode(b, v) })
}

func (t badgerTx) Put(ns, key string, v any) error {
	k, err := fullKey(ns, key)
	if err != nil {
		return err
	}
	b, err := encode(v)
	if err != nil {
		return err
	}
	return t.txn.Set(k, b)
}

func (t badgerTx) Insert(ns, key string, v any) error {
	k, err := fullKey(ns, key)
	if err != nil {
		return err
	}
	if _, err := t.txn.Get(k); err == nil {
		return ErrExists
	} else if !errors.Is(err, badger.ErrKeyNotFound) {
		return fmt.Errorf("store: insert %s/%s: %w", ns, key, err)
	}
	return t.Put(ns, key, v)
}

func (t badgerTx) Delete(ns, key string) error {
	k, err := fullKey(ns, key)
	if err != nil {
		return err
	}
	return t.txn.Delete(k)
}

func (t badgerTx) Scan(ns, prefix string, fn func(key string, value []byte) error) error {
	p, err := fullKey(ns, prefix)
	if err != nil {
		return err
	}
	it := t.txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	strip := len(ns) + 1
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		key := string(item.Key()[strip:])
		err := item.Value(func(b []byte) error { return fn(key, b) })
		if errors.Is(err, ErrStop) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// badgerLog routes Badger's logger into slog; Badger's info chatter is
// kept at debug level.
type badgerLog struct{ l *slog.Logger }

func (b badgerLog) Errorf(f string, a ...any)   { b.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...))) }
func (b badgerLog) Warningf(f string, a ...any) { b.l.Warn(strings.TrimSpace(fmt.Sprintf(f, a...))) }
func (b badgerLog) Infof(f string, a ...any)    { b.l.Debug(strings.TrimSpace(fmt.Sprintf(f, a...))) }
func (b badgerLog) Debugf(f string, a ...any)   { b.l.Debug(strings.TrimSpace(fmt.Sprintf(f, a...))) }
