// Package audit is the coordinator's audit trail: who did what to which
// machine, and every refusal, in an append-only, hash-chained log.
//
// Each record carries the SHA-256 of its predecessor and its own hash over
// its content, so removing, reordering or editing a stored record breaks the
// chain, which Verify detects (I5).
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/wire"
)

const (
	nsRecord = "audit"
	nsHead   = "auditmeta"
	headKey  = "head"
)

// Outcomes.
const (
	OK     = "ok"
	Denied = "denied"
)

// Record is one stored audit record.
type Record struct {
	Seq    uint64 `json:"seq"`
	Source string `json:"source"` // "coordinator" or "agent:<device id>"
	wire.AuditEvent
	Prev string `json:"prev"`
	Hash string `json:"hash"`
}

type head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// Log appends to and reads the audit trail.
type Log struct {
	db  store.DB
	now func() time.Time

	mu sync.Mutex // serialises appends so the chain is linear
}

// New returns a Log over db; now is the clock (nil means time.Now).
func New(db store.DB, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{db: db, now: now}
}

// Limits on what one record may hold.
const (
	maxField  = 512
	maxFields = 32
)

// Append records ev from source durably. A zero ev.Time is set to now.
func (l *Log) Append(source string, ev wire.AuditEvent) (Record, error) {
	if ev.Time.IsZero() {
		ev.Time = l.now()
	}
	ev.Time = ev.Time.UTC()
	ev = bound(ev)
	l.mu.Lock()
	defer l.mu.Unlock()
	var rec Record
	err := l.db.Update(func(tx store.Tx) error {
		var h head
		if err := tx.Get(nsHead, headKey, &h); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		rec = Record{Seq: h.Seq + 1, Source: source, AuditEvent: ev, Prev: h.Hash}
		var err error
		if rec.Hash, err = rec.digest(); err != nil {
			return err
		}
		if err := tx.Insert(nsRecord, seqKey(rec.Seq), rec); err != nil {
			return err
		}
		return tx.Put(nsHead, headKey, head{Seq: rec.Seq, Hash: rec.Hash})
	})
	if err != nil {
		return Record{}, fmt.Errorf("audit.Append: %w", err)
	}
	return rec, nil
}

// Query selects records; zero fields match everything.
type Query struct {
	Action  string
	Outcome string
	After   uint64 // only records with Seq > After
	Limit   int    // 0 means 1000
}

// List returns the records matching q in order.
func (l *Log) List(q Query) ([]Record, error) {
	if q.Limit <= 0 {
		q.Limit = 1000
	}
	var out []Record
	err := l.db.View(func(tx store.Tx) error {
		return tx.Scan(nsRecord, "", func(_ string, v []byte) error {
			var r Record
			if err := store.Decode(v, &r); err != nil {
				return err
			}
			if r.Seq <= q.After || q.Action != "" && r.Action != q.Action || q.Outcome != "" && r.Outcome != q.Outcome {
				return nil
			}
			out = append(out, r)
			if len(out) >= q.Limit {
				return store.ErrStop
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("audit.List: %w", err)
	}
	return out, nil
}

// ErrBroken is returned by Verify when the chain does not hold.
var ErrBroken = errors.New("audit: chain broken")

// Verify walks the whole chain and checks every link and hash. It returns
// the number of records checked.
func (l *Log) Verify() (int, error) {
	n := 0
	prev := ""
	var want uint64 = 1
	err := l.db.View(func(tx store.Tx) error {
		err := tx.Scan(nsRecord, "", func(_ string, v []byte) error {
			var r Record
			if err := store.Decode(v, &r); err != nil {
				return err
			}
			switch {
			case r.Seq != want:
				return fmt.Errorf("%w: record %d where %d was expected", ErrBroken, r.Seq, want)
			case r.Prev != prev:
				return fmt.Errorf("%w: record %d does not follow its predecessor", ErrBroken, r.Seq)
			}
			if d, err := r.digest(); err != nil || r.Hash != d {
				return fmt.Errorf("%w: record %d was altered", ErrBroken, r.Seq)
			}
			prev, want, n = r.Hash, want+1, n+1
			return nil
		})
		if err != nil {
			return err
		}
		var h head
		if err := tx.Get(nsHead, headKey, &h); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if h.Seq != uint64(n) || h.Hash != prev {
			return fmt.Errorf("%w: %d records but the head says %d", ErrBroken, n, h.Seq)
		}
		return nil
	})
	return n, err
}

func (r Record) digest() (string, error) {
	c := r
	c.Hash = ""
	b, err := json.Marshal(c) // map keys are sorted: the encoding is canonical
	if err != nil {
		// A time outside RFC 3339's years 0..9999 cannot be encoded.
		return "", fmt.Errorf("audit: record cannot be encoded: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func seqKey(seq uint64) string {
	s := strconv.FormatUint(seq, 10)
	return fmt.Sprintf("%020s", s)
}

func bound(ev wire.AuditEvent) wire.AuditEvent {
	ev.Actor, ev.Action, ev.Target = clip(ev.Actor), clip(ev.Action), clip(ev.Target)
	ev.Outcome, ev.Reason = clip(ev.Outcome), clip(ev.Reason)
	if len(ev.Fields) > 0 {
		f := make(map[string]string, min(len(ev.Fields), maxFields))
		for k, v := range ev.Fields {
			if len(f) == maxFields {
				break
			}
			f[clip(k)] = clip(v)
		}
		ev.Fields = f
	}
	return ev
}

func clip(s string) string {
	if len(s) > maxField {
		return s[:maxField]
	}
	return s
}
