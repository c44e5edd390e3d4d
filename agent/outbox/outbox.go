// Package outbox is the agent's durable, ordered queue of what it owes the
// coordinator: tickets the end user filed (T5) and messages of a chat
// (T1), held while the help desk is unreachable and sent, in order, once
// it is back (T4).
//
// # Usage
//
//	ob, err := outbox.Open(dir, outbox.Options{})
//	err = ob.Put("ticket", id, payload)  // durable when it returns
//	go ob.Drain(ctx, send)               // sends in order; removes after success
//
// # On disk: a file per item
//
// Each item is one file, dir/<seq>.item, <seq> a 16-digit hex sequence
// number that orders the queue. Put writes the encoded item to a temporary
// name (dir/tmp-…), fsyncs it, renames it to its final name and fsyncs the
// directory before it returns: a crash at any point leaves either the
// whole item or none of it (a temporary file, removed by the next Open).
// The encoding carries a CRC-32C of the whole record, so a file damaged
// after the fact (a disk, a file system without ordered data) is detected,
// moved to dir/corrupt/ and reported, never sent and never a crash.
//
// A file per item, rather than an append-only log, because items are big
// and few (a ticket carries a screenshot of up to megabytes; a queue holds
// at most thousands), and a sent item must go: deleting a file is one
// unlink where a log needs compaction (rewriting what is still queued,
// itself a crash-safe dance) or grows without bound. The cost is two
// fsyncs per Put, which is the latency a user waits for once per ticket.
//
// # Delivery: at least once, filed once
//
// Drain removes an item only after send returned nil for it. If the agent
// dies after the coordinator accepted an item but before its file is
// removed, the item is sent again after restart: at most one item is sent
// twice per crash. Items carry the caller's ID (a ticket's
// wire.AgentTicket.ID), which the coordinator files once, so nothing is
// filed twice. A removal is not fsynced: after a power cut (not a mere
// crash of the agent) a few sent items may come back and are sent again,
// under the same rule.
//
// Put of an ID already queued is a no-op, so a caller that is not sure its
// Put landed (it crashed) may put again. An ID already sent and removed is
// queued again; the coordinator's ID check catches that.
package outbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"tailscale.com/tstime"
)

// Limits of an outbox unless Options say otherwise.
const (
	DefaultMaxItems = 10000
	DefaultMaxBytes = 256 << 20
	// MaxKindLen and MaxIDLen bound an item's kind and ID (letters, digits,
	// '.', '_' and '-').
	MaxKindLen = 64
	MaxIDLen   = 128
)

// Backoff bounds: the pause after the first failed send, doubled after
// each further failure up to the maximum.
const (
	FirstBackoff = time.Second
	MaxBackoff   = time.Minute
)

var (
	// ErrFull is returned by Put when the item would take the queue past
	// its bound of items or bytes.
	ErrFull = errors.New("outbox: full")
	// ErrInvalid is returned by Put for an empty, too long or badly formed
	// kind or ID.
	ErrInvalid = errors.New("outbox: invalid kind or id")
	// ErrClosed is returned by calls after Close.
	ErrClosed = errors.New("outbox: closed")
	// ErrDraining is returned by Drain when another Drain is running.
	ErrDraining = errors.New("outbox: already draining")
)

// Item is one queued message or ticket.
type Item struct {
	Seq     uint64 // queue order
	Kind    string // what it is, e.g. "ticket"; the sender decides what to do with it
	ID      string // the caller's idempotency key
	Payload []byte
}

// Options configure an outbox; the zero value is usable.
type Options struct {
	MaxItems int   // 0: DefaultMaxItems
	MaxBytes int64 // bytes of the queued files; 0: DefaultMaxBytes
	// Clock paces the backoff; nil means the real clock.
	Clock  tstime.Clock
	Logger *slog.Logger
}

// entry is what the outbox keeps in memory of a queued item: not its
// payload, which is read from its file when it is sent.
type entry struct {
	seq  uint64
	kind string
	id   string
	size int64
}

// Outbox is an open queue. Its methods may be called from several
// goroutines.
type Outbox struct {
	dir  string
	opt  Options
	log  *slog.Logger
	wake chan struct{} // a Put arrived (capacity 1)
	kick chan struct{} // Kick was called (capacity 1)

	putMu sync.Mutex // serialises Puts: sequence numbers commit in order

	mu       sync.Mutex
	closed   bool
	draining bool
	queue    []entry // ordered by seq
	ids      map[string]bool
	bytes    int64
	next     uint64
	corrupt  []string // files moved to corrupt/, as reported
	changed  chan struct{}

	// hook, set by tests before use, is called at each step of Put and
	// Drain ("put:written", "drain:sent", …) with the item's sequence
	// number.
	hook func(step string, seq uint64)
}

// step calls the test hook, if set, at a step of Put or Drain: a crash
// test kills the process there.
func (o *Outbox) step(name string, seq uint64) {
	if o.hook != nil {
		o.hook(name, seq)
	}
}

// Open opens (creating it if needed) the outbox in dir. Temporary files a
// crash left are removed; files that do not decode are moved to
// dir/corrupt/ and reported (Corrupt, and the logger).
func Open(dir string, opt Options) (*Outbox, error) {
	if opt.MaxItems <= 0 {
		opt.MaxItems = DefaultMaxItems
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	if opt.Clock == nil {
		opt.Clock = tstime.StdClock{}
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox.Open: %w", err)
	}
	o := &Outbox{dir: dir, opt: opt, log: opt.Logger, wake: make(chan struct{}, 1), kick: make(chan struct{}, 1), ids: map[string]bool{}, next: 1, changed: make(chan struct{})}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("outbox.Open: %w", err)
	}
	for _, de := range des {
		name := de.Name()
		switch {
		case de.IsDir():
			continue
		case strings.HasPrefix(name, "tmp-"):
			// A Put that never returned: it did not happen.
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("outbox.Open: %w", err)
			}
			continue
		case !strings.HasSuffix(name, ".item"):
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, ".item"), 16, 64)
		data, rerr := os.ReadFile(filepath.Join(dir, name))
		var it Item
		if err == nil && rerr == nil {
			it, err = Decode(data)
			if err == nil && it.Seq != seq {
				err = fmt.Errorf("%w: file %s holds item %d", ErrCorrupt, name, it.Seq)
			}
			if err == nil && o.ids[it.ID] {
				err = fmt.Errorf("%w: id %q queued twice", ErrCorrupt, it.ID)
			}
		}
		if rerr != nil {
			return nil, fmt.Errorf("outbox.Open: %w", rerr)
		}
		if err != nil {
			if qerr := o.quarantine(name, err); qerr != nil {
				return nil, fmt.Errorf("outbox.Open: %w", qerr)
			}
			continue
		}
		o.queue = append(o.queue, entry{seq: seq, kind: it.Kind, id: it.ID, size: int64(len(data))})
		o.ids[it.ID] = true
		o.bytes += int64(len(data))
		o.next = max(o.next, seq+1)
	}
	slices.SortFunc(o.queue, func(a, b entry) int { return cmp.Compare(a.seq, b.seq) })
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("outbox.Open: %w", err)
	}
	return o, nil
}

// quarantine moves a file that does not decode out of the queue.
func (o *Outbox) quarantine(name string, why error) error {
	cdir := filepath.Join(o.dir, "corrupt")
	if err := os.MkdirAll(cdir, 0o700); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(o.dir, name), filepath.Join(cdir, name)); err != nil {
		return err
	}
	o.corrupt = append(o.corrupt, name)
	o.log.Error("an outbox file is damaged and was set aside; it will not be sent", "file", filepath.Join(cdir, name), "err", why)
	return nil
}

// Corrupt lists the files set aside as damaged since Open, by name (they
// are under dir/corrupt/).
func (o *Outbox) Corrupt() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.corrupt)
}

// Len returns the number of queued items and their bytes on disk.
func (o *Outbox) Len() (items int, bytes int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.queue), o.bytes
}

// Queued reports whether the item with this ID is still waiting to be
// sent, and a channel closed at the next change of the queue.
func (o *Outbox) Queued(id string) (bool, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ids[id], o.changed
}

// touch wakes the watchers of the queue; o.mu is held.
func (o *Outbox) touch() {
	close(o.changed)
	o.changed = make(chan struct{})
}

// validName reports whether s is 1..limit letters, digits, '.', '_', '-'.
func validName(s string, limit int) bool {
	if s == "" || len(s) > limit {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Put queues an item and returns once it is on disk (fsynced, and its
// directory entry too). A Put of an ID that is queued already does
// nothing and returns nil. A full queue returns ErrFull.
func (o *Outbox) Put(kind, id string, payload []byte) error {
	if !validName(kind, MaxKindLen) || !validName(id, MaxIDLen) {
		return fmt.Errorf("outbox.Put(%.64q, %.64q): %w", kind, id, ErrInvalid)
	}
	if len(payload) > MaxPayload {
		return fmt.Errorf("outbox.Put: %w: a payload of %d bytes (the limit is %d)", ErrFull, len(payload), MaxPayload)
	}
	o.putMu.Lock()
	defer o.putMu.Unlock()
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return ErrClosed
	}
	if o.ids[id] {
		o.mu.Unlock()
		return nil
	}
	seq := o.next
	data := Encode(Item{Seq: seq, Kind: kind, ID: id, Payload: payload})
	size := int64(len(data))
	if len(o.queue)+1 > o.opt.MaxItems || o.bytes+size > o.opt.MaxBytes {
		n, b := len(o.queue), o.bytes
		o.mu.Unlock()
		return fmt.Errorf("outbox.Put: %w: %d items and %d bytes queued, this item is %d bytes; the limit is %d items, %d bytes",
			ErrFull, n, b, size, o.opt.MaxItems, o.opt.MaxBytes)
	}
	o.next++
	o.mu.Unlock()
	if err := o.write(seq, data); err != nil {
		return fmt.Errorf("outbox.Put: %w", err)
	}
	o.mu.Lock()
	o.queue = append(o.queue, entry{seq: seq, kind: kind, id: id, size: size})
	o.ids[id] = true
	o.bytes += size
	o.touch()
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// write puts data at seq's name: temporary file, fsync, rename, fsync of
// the directory.
func (o *Outbox) write(seq uint64, data []byte) (err error) {
	f, err := os.CreateTemp(o.dir, "tmp-")
	if err != nil {
		return err
	}
	o.step("put:created", seq)
	defer func() {
		if err != nil {
			f.Close()           //nolint:errcheck // already failing
			os.Remove(f.Name()) //nolint:errcheck // already failing; Open removes it otherwise
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	o.step("put:written", seq)
	if err := f.Sync(); err != nil {
		return err
	}
	o.step("put:synced", seq)
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), o.path(seq)); err != nil {
		return err
	}
	o.step("put:renamed", seq)
	if err := syncDir(o.dir); err != nil {
		return err
	}
	o.step("put:done", seq)
	return nil
}

func (o *Outbox) path(seq uint64) string {
	return filepath.Join(o.dir, fmt.Sprintf("%016x.item", seq))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// Kick wakes a waiting Drain: it sends now, without waiting out its
// backoff. Call it when the link to the coordinator comes back.
func (o *Outbox) Kick() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// Close makes further Puts and Drains fail. Items on disk stay queued for
// the next Open. A running Drain ends with its context.
func (o *Outbox) Close() error {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	return nil
}

// permanent marks a send error as final for its item.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps a send error that sending again cannot fix (the
// coordinator refused the item as malformed): Drain sets the item aside
// in dir/rejected/, reports it and goes on with the next one.
func Permanent(err error) error { return permanent{err} }

// IsPermanent reports whether err was wrapped by Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// Drain sends the queued items, oldest first, one at a time, until ctx
// ends (it then returns ctx's error). An item is removed only after send
// returned nil for it. While send fails, Drain retries the same item after
// a pause that doubles from FirstBackoff to MaxBackoff (on the injected
// clock), or at once on Kick; an empty queue waits for a Put. An error
// wrapped with Permanent sets the item aside and goes on.
func (o *Outbox) Drain(ctx context.Context, send func(context.Context, Item) error) error {
	o.mu.Lock()
	switch {
	case o.closed:
		o.mu.Unlock()
		return ErrClosed
	case o.draining:
		o.mu.Unlock()
		return ErrDraining
	}
	o.draining = true
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.draining = false
		o.mu.Unlock()
	}()
	backoff := time.Duration(0)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		o.mu.Lock()
		if o.closed {
			o.mu.Unlock()
			return ErrClosed
		}
		var head entry
		have := len(o.queue) > 0
		if have {
			head = o.queue[0]
		}
		o.mu.Unlock()
		if !have {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-o.wake:
			case <-o.kick:
			}
			continue
		}
		it, err := o.read(head)
		if err != nil {
			// Damaged since Open: set aside, never sent.
			o.mu.Lock()
			qerr := o.quarantine(filepath.Base(o.path(head.seq)), err)
			o.dropLocked(head)
			o.mu.Unlock()
			if qerr != nil {
				return fmt.Errorf("outbox.Drain: %w", qerr)
			}
			continue
		}
		select {
		case <-o.kick: // this attempt is the one a Kick asked for
		default:
		}
		o.step("drain:sending", head.seq)
		err = send(ctx, it)
		switch {
		case err == nil:
			o.step("drain:sent", head.seq)
			backoff = 0
			if err := o.remove(head, ""); err != nil {
				return fmt.Errorf("outbox.Drain: %w", err)
			}
			o.step("drain:removed", head.seq)
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case IsPermanent(err):
			o.log.Error("the coordinator refused a queued item; it is set aside and will not be sent again", "kind", it.Kind, "id", it.ID, "err", err)
			if err := o.remove(head, "rejected"); err != nil {
				return fmt.Errorf("outbox.Drain: %w", err)
			}
			continue
		}
		backoff = min(max(2*backoff, FirstBackoff), MaxBackoff)
		// The timer exists before the step is told (a test's clock moves
		// on the step: a timer made after would miss it).
		tc, tch := o.opt.Clock.NewTimer(backoff)
		o.step("drain:backoff:"+backoff.String(), head.seq)
		o.log.Debug("sending a queued item failed; retrying", "kind", it.Kind, "id", it.ID, "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			tc.Stop()
			return ctx.Err()
		case <-o.kick:
			tc.Stop()
			backoff = 0 // the link is back: start over
		case <-tch:
		}
	}
}

// read reads and checks a queued item's file.
func (o *Outbox) read(e entry) (Item, error) {
	data, err := os.ReadFile(o.path(e.seq))
	if err != nil {
		return Item{}, err
	}
	it, err := Decode(data)
	if err == nil && (it.Seq != e.seq || it.ID != e.id) {
		err = fmt.Errorf("%w: the file of item %d changed", ErrCorrupt, e.seq)
	}
	return it, err
}

// remove takes a sent item out of the queue: its file is deleted, or moved
// to the subdirectory aside when it is not empty.
func (o *Outbox) remove(e entry, aside string) error {
	var err error
	if aside == "" {
		err = os.Remove(o.path(e.seq))
	} else if err = os.MkdirAll(filepath.Join(o.dir, aside), 0o700); err == nil {
		err = os.Rename(o.path(e.seq), filepath.Join(o.dir, aside, filepath.Base(o.path(e.seq))))
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	o.mu.Lock()
	o.dropLocked(e)
	o.mu.Unlock()
	return nil
}

// dropLocked forgets the queue's head e; o.mu is held.
func (o *Outbox) dropLocked(e entry) {
	if len(o.queue) > 0 && o.queue[0].seq == e.seq {
		o.queue = o.queue[1:]
	}
	delete(o.ids, e.id)
	o.bytes -= e.size
	o.touch()
}
