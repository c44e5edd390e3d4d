// Package audit is the coordinator's audit trail: who did what to which
// machine, and every refusal, in an append-only, keyed hash chain (I5, L3).
//
// # The chain
//
// Each record carries its predecessor's link and its own: an HMAC-SHA256,
// under a key kept outside the store (pki.LoadOrCreateSecretKey: a 0600
// file beside the coordinator's other keys), over the record's content and
// its predecessor's link. Someone who can write the store but not read the
// key can therefore neither edit a record nor rewrite the chain from any
// point on: the first record they touch no longer matches its link.
//
// The head (the last record's number and link) is kept MAC'd in the store
// and a checkpoint of it is stored every CheckpointEvery records and on
// Close, and also written to CheckpointFile (outside the store) if it is
// set. A tail cut back to before the last checkpoint is therefore seen;
// records since the last checkpoint could be cut only together with the
// head and every later checkpoint, and a head rolled back so is still
// caught by CheckpointFile.
//
// Verify walks the chain and names the first bad record: edited, missing,
// moved, rewritten without the key, or cut from the tail.
//
// # Agents' records
//
// Agents forward their own trail. AppendForwarded takes a batch from one
// device under a per-device budget (a token bucket: over it nothing of the
// batch is written), stamps the coordinator's receipt time and makes the
// device the actor; what the agent claimed (actor, time) is kept as the
// fields claimed_actor and claimed_time.
package audit

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"tailscale.com/atomicfile"

	"github.com/peerdesk/peerdesk/coordinator/ratelimit"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/wire"
)

const (
	nsRecord     = "audit"
	nsHead       = "auditmeta"
	nsCheckpoint = "auditcp"
	headKey      = "head"
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
	Prev string `json:"prev"` // the predecessor's Hash ("" for the first)
	Hash string `json:"hash"` // HMAC-SHA256 of the record without Hash, under the log's key
}

// Checkpoint is a MAC'd statement that the chain held Seq records whose
// last link was Head.
type Checkpoint struct {
	Seq  uint64    `json:"seq"`
	Head string    `json:"head"`
	Time time.Time `json:"time"`
	MAC  string    `json:"mac"`
}

// Errors; test with errors.Is.
var (
	// ErrBroken is returned (wrapped in a *VerifyError) by Verify when the
	// chain does not hold.
	ErrBroken = errors.New("audit: chain broken")
	// ErrRateLimited refuses a device's forwarded batch over its budget;
	// nothing of the batch was written. The agent keeps it and retries.
	ErrRateLimited = errors.New("audit: too many forwarded records from this device, try again later")
	// ErrBatch refuses a forwarded batch that is empty-handed or too large.
	ErrBatch = errors.New("audit: bad forwarded batch")
)

// VerifyError names the first bad record.
type VerifyError struct {
	Seq    uint64 // the first bad record's number (1-based; Records+1 for a cut tail)
	Key    string // its store key
	Reason string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("audit: chain broken at record %d: %s", e.Seq, e.Reason)
}

// Is makes errors.Is(err, ErrBroken) hold.
func (e *VerifyError) Is(target error) bool { return target == ErrBroken }

// Config configures a Log.
type Config struct {
	// Key is the HMAC key, at least 32 bytes, kept outside the store.
	Key []byte
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CheckpointEvery is how many records lie between stored checkpoints;
	// 0 means DefaultCheckpointEvery.
	CheckpointEvery int
	// CheckpointFile, if set, is a file outside the store that receives
	// each checkpoint too (mode 0600, written atomically), so a head rolled
	// back inside the store is still seen.
	CheckpointFile string
	// Forward is the per-device budget of forwarded records; zero means
	// DefaultForward.
	Forward ratelimit.Config
	// AdoptLegacy lets Open re-key a chain written before keys (plain
	// SHA-256 links). Set it only when the key was just created: with a key
	// in use, an unkeyed chain is a rewrite, and must stay for Verify to
	// report, not be adopted.
	AdoptLegacy bool
}

// DefaultCheckpointEvery is the default distance between checkpoints.
const DefaultCheckpointEvery = 100

// MaxForwardBatch bounds one forwarded batch.
const MaxForwardBatch = 100

// DefaultForward is a device's default budget of forwarded records: a burst
// of 1,000 (a backlog after an outage, ten full batches), then 5 a second
// (432,000 a day). An agent over it is answered ErrRateLimited and retries.
var DefaultForward = ratelimit.Config{Every: 200 * time.Millisecond, Burst: 1000, MaxKeys: 100_000}

// Log appends to and reads the audit trail.
type Log struct {
	db    store.DB
	now   func() time.Time
	key   []byte
	every uint64
	file  string
	fwd   *ratelimit.Limiter

	mu sync.Mutex // serialises appends so the chain is linear
}

// New returns a Log over db keyed with a random key that lives as long as
// the Log: for tests and tools that verify what they wrote themselves. A
// coordinator uses Open with a key kept on disk.
func New(db store.DB, now func() time.Time) *Log {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic("audit: crypto/rand failed: " + err.Error()) // never fails on supported OSes
	}
	l, err := Open(db, Config{Key: key, Now: now})
	if err != nil {
		panic("audit.New: " + err.Error()) // Open fails only on a bad Config or store
	}
	return l
}

// Open returns a Log over db. A chain written before keys (plain SHA-256
// links, a head without a MAC) is re-keyed if cfg.AdoptLegacy: Open checks
// the old chain's hashes, re-keys every record, and appends an
// "audit.rekey" record saying how many records were adopted and whether
// their old chain held. Without AdoptLegacy such a chain is left as it is
// and Verify reports it broken at its first record.
func Open(db store.DB, cfg Config) (*Log, error) {
	if len(cfg.Key) < 32 {
		return nil, errors.New("audit.Open: the key must be at least 32 bytes")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = DefaultCheckpointEvery
	}
	if cfg.Forward.Every <= 0 || cfg.Forward.Burst <= 0 {
		cfg.Forward = DefaultForward
	}
	if cfg.Forward.Burst < MaxForwardBatch {
		return nil, fmt.Errorf("audit.Open: the forward burst (%d) must hold a full batch (%d)", cfg.Forward.Burst, MaxForwardBatch)
	}
	cfg.Forward.Now = cfg.Now
	l := &Log{db: db, now: cfg.Now, key: append([]byte(nil), cfg.Key...), every: uint64(cfg.CheckpointEvery),
		file: cfg.CheckpointFile, fwd: ratelimit.New(cfg.Forward)}
	var h Checkpoint
	err := db.View(func(tx store.Tx) error { return tx.Get(nsHead, headKey, &h) })
	switch {
	case errors.Is(err, store.ErrNotFound):
		return l, nil
	case err != nil:
		return nil, fmt.Errorf("audit.Open: %w", err)
	case h.MAC != "":
		return l, nil
	case !cfg.AdoptLegacy:
		// Written before keys, or rewritten by someone without the key:
		// Verify says which record is the first bad one.
		return l, nil
	}
	if err := l.adopt(); err != nil {
		return nil, fmt.Errorf("audit.Open: %w", err)
	}
	return l, nil
}

// Limits on what one record may hold.
const (
	maxField  = 512
	maxFields = 32
)

// Append records ev from source durably. A zero ev.Time is set to now.
func (l *Log) Append(source string, ev wire.AuditEvent) (Record, error) {
	recs, err := l.append(source, []wire.AuditEvent{ev})
	if err != nil {
		return Record{}, fmt.Errorf("audit.Append: %w", err)
	}
	return recs[0], nil
}

// AppendForwarded records a batch of device's own audit records as
// received from its agent at receivedAt: all of them or, over the device's
// budget (ErrRateLimited) or on any error, none. Each record's time is
// receivedAt and its actor "device:<device>"; the agent's claimed actor and
// time are kept as the fields claimed_actor and claimed_time.
func (l *Log) AppendForwarded(device string, recs []wire.AuditEvent, receivedAt time.Time) error {
	switch {
	case device == "":
		return fmt.Errorf("audit.AppendForwarded: %w: no device", ErrBatch)
	case len(recs) > MaxForwardBatch:
		return fmt.Errorf("audit.AppendForwarded: %w: %d records, at most %d", ErrBatch, len(recs), MaxForwardBatch)
	case len(recs) == 0:
		return nil
	}
	if !l.fwd.AllowN(device, len(recs)) {
		return fmt.Errorf("audit.AppendForwarded: %w", ErrRateLimited)
	}
	at := receivedAt.UTC()
	evs := make([]wire.AuditEvent, len(recs))
	for i, ev := range recs {
		ev = boundFields(ev, maxFields-2)
		f := make(map[string]string, len(ev.Fields)+2)
		for k, v := range ev.Fields {
			f[k] = v
		}
		f["claimed_actor"] = clip(ev.Actor)
		if !ev.Time.IsZero() {
			f["claimed_time"] = ev.Time.UTC().Format(time.RFC3339Nano)
		}
		ev.Fields, ev.Actor, ev.Time = f, "device:"+device, at
		evs[i] = ev
	}
	if _, err := l.append("agent:"+device, evs); err != nil {
		return fmt.Errorf("audit.AppendForwarded: %w", err)
	}
	return nil
}

// append writes evs in one transaction, checkpointing where due.
func (l *Log) append(source string, evs []wire.AuditEvent) ([]Record, error) {
	for i := range evs {
		if evs[i].Time.IsZero() {
			evs[i].Time = l.now()
		}
		evs[i].Time = evs[i].Time.UTC()
		evs[i] = bound(evs[i])
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var recs []Record
	var cp *Checkpoint
	err := l.db.Update(func(tx store.Tx) error {
		recs, cp = recs[:0], nil
		var h Checkpoint
		if err := tx.Get(nsHead, headKey, &h); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		for _, ev := range evs {
			rec := Record{Seq: h.Seq + 1, Source: source, AuditEvent: ev, Prev: h.Head}
			var err error
			if rec.Hash, err = l.link(rec); err != nil {
				return err
			}
			if err := tx.Insert(nsRecord, seqKey(rec.Seq), rec); err != nil {
				return err
			}
			recs = append(recs, rec)
			h = l.checkpoint(rec.Seq, rec.Hash)
			if rec.Seq%l.every == 0 {
				if err := tx.Put(nsCheckpoint, seqKey(rec.Seq), h); err != nil {
					return err
				}
				cp = &h
			}
		}
		return tx.Put(nsHead, headKey, h)
	})
	if err != nil {
		return nil, err
	}
	if cp != nil {
		if err := l.writeFile(*cp); err != nil {
			return recs, err
		}
	}
	return recs, nil
}

// Close stores a checkpoint of the head (and writes CheckpointFile). The
// Log may still be used afterwards.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var h Checkpoint
	err := l.db.Update(func(tx store.Tx) error {
		if err := tx.Get(nsHead, headKey, &h); err != nil {
			return err
		}
		if !l.validCheckpoint(h) {
			return &VerifyError{Seq: h.Seq, Reason: "the head was altered"}
		}
		return tx.Put(nsCheckpoint, seqKey(h.Seq), h)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit.Close: %w", err)
	}
	return l.writeFile(h)
}

func (l *Log) writeFile(cp Checkpoint) error {
	if l.file == "" {
		return nil
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(l.file, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("audit: writing the checkpoint file: %w", err)
	}
	return nil
}

// Query selects records; zero fields match everything.
type Query struct {
	Action  string
	Outcome string
	After   uint64    // only records with Seq > After
	Since   time.Time // only records whose Time is not before Since
	Limit   int       // 0 means 1000
}

// List returns the records matching q in order.
func (l *Log) List(q Query) ([]Record, error) {
	if q.Limit <= 0 {
		q.Limit = 1000
	}
	var out []Record
	err := l.scan(q, func(r Record) error {
		out = append(out, r)
		if len(out) >= q.Limit {
			return store.ErrStop
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit.List: %w", err)
	}
	return out, nil
}

// scan calls fn for each record matching q (q.Limit ignored), in order.
func (l *Log) scan(q Query, fn func(Record) error) error {
	return l.db.View(func(tx store.Tx) error {
		return tx.Scan(nsRecord, "", func(_ string, v []byte) error {
			var r Record
			if err := store.Decode(v, &r); err != nil {
				return err
			}
			if r.Seq <= q.After || q.Action != "" && r.Action != q.Action || q.Outcome != "" && r.Outcome != q.Outcome ||
				!q.Since.IsZero() && r.Time.Before(q.Since) {
				return nil
			}
			return fn(r)
		})
	})
}

// link is the record's HMAC-SHA256 under the log's key, over its canonical
// JSON encoding without Hash (which includes Prev, the predecessor's link).
func (l *Log) link(r Record) (string, error) {
	r.Hash = ""
	b, err := json.Marshal(r) // map keys are sorted: the encoding is canonical
	if err != nil {
		// A time outside RFC 3339's years 0..9999 cannot be encoded.
		return "", fmt.Errorf("audit: record cannot be encoded: %w", err)
	}
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte("peerdesk audit record v2\n"))
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil)), nil
}

func (l *Log) checkpoint(seq uint64, head string) Checkpoint {
	cp := Checkpoint{Seq: seq, Head: head, Time: l.now().UTC()}
	cp.MAC = l.checkpointMAC(cp)
	return cp
}

func (l *Log) checkpointMAC(cp Checkpoint) string {
	m := hmac.New(sha256.New, l.key)
	fmt.Fprintf(m, "peerdesk audit checkpoint v1\n%d\n%s\n%s", cp.Seq, cp.Head, cp.Time.UTC().Format(time.RFC3339Nano))
	return hex.EncodeToString(m.Sum(nil))
}

func (l *Log) validCheckpoint(cp Checkpoint) bool {
	return hmac.Equal([]byte(cp.MAC), []byte(l.checkpointMAC(cp)))
}

func seqKey(seq uint64) string {
	s := strconv.FormatUint(seq, 10)
	return fmt.Sprintf("%020s", s)
}

func bound(ev wire.AuditEvent) wire.AuditEvent {
	ev.Actor, ev.Action, ev.Target = clip(ev.Actor), clip(ev.Action), clip(ev.Target)
	ev.Outcome, ev.Reason = clip(ev.Outcome), clip(ev.Reason)
	return boundFields(ev, maxFields)
}

func boundFields(ev wire.AuditEvent, n int) wire.AuditEvent {
	if len(ev.Fields) > 0 {
		f := make(map[string]string, min(len(ev.Fields), n))
		for k, v := range ev.Fields {
			if len(f) == n {
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
