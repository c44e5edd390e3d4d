// Package auditlog is an agent's own audit trail: every peer call it
// answered or refused, written durably to a local append-only file before
// the answer goes out, and forwarded to the coordinator whenever it is
// reachable. The coordinator being down loses nothing: records wait in the
// file and are sent later, in order.
package auditlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/wire"
	"tailscale.com/atomicfile"
)

const (
	logName    = "audit.jsonl"
	cursorName = "audit.forwarded"
	batchMax   = 100
	lineMax    = 64 << 10
)

// Sender delivers a batch of records to the coordinator.
type Sender func(ctx context.Context, evs []wire.AuditEvent) error

// Log is the agent's audit trail.
type Log struct {
	dir string
	now func() time.Time
	log *slog.Logger

	mu   sync.Mutex
	f    *os.File
	kick chan struct{}
	fwd  sync.Mutex // one forwarding pass at a time, so nothing is sent twice
}

// Open opens (or creates) the audit trail in dir.
func Open(dir string, now func() time.Time, log *slog.Logger) (*Log, error) {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auditlog.Open: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, logName), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("auditlog.Open: %w", err)
	}
	if err := endTornLine(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("auditlog.Open: %w", err)
	}
	return &Log{dir: dir, now: now, log: log, f: f, kick: make(chan struct{}, 1)}, nil
}

// endTornLine ends a torn last line (a crash mid-write) with a newline, so
// the next record starts a line of its own instead of being glued to the
// fragment and skipped as damaged along with it.
func endTornLine(f *os.File) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], st.Size()-1); err != nil {
		return err
	}
	if last[0] == '\n' {
		return nil
	}
	if _, err := f.Write([]byte{'\n'}); err != nil {
		return err
	}
	return f.Sync()
}

// Record appends ev and syncs it to disk before returning.
func (l *Log) Record(ev wire.AuditEvent) error {
	if ev.Time.IsZero() {
		ev.Time = l.now()
	}
	ev.Time = ev.Time.UTC()
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("auditlog.Record: %w", err)
	}
	if len(b) >= lineMax {
		return fmt.Errorf("auditlog.Record: record of %d bytes is too large", len(b))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("auditlog.Record: closed")
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("auditlog.Record: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("auditlog.Record: %w", err)
	}
	select {
	case l.kick <- struct{}{}:
	default:
	}
	return nil
}

// Close closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Forward sends unforwarded records with send until ctx ends: at once after
// each new record, and every retry interval while sending fails.
func (l *Log) Forward(ctx context.Context, send Sender, retry time.Duration) {
	t := time.NewTicker(retry)
	defer t.Stop()
	for {
		if err := l.ForwardOnce(ctx, send); err != nil && ctx.Err() == nil {
			l.log.Debug("audit forwarding deferred", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-l.kick:
		case <-t.C:
		}
	}
}

// ForwardOnce sends every record not yet forwarded, in batches, and
// remembers how far it got after each batch the coordinator accepted.
func (l *Log) ForwardOnce(ctx context.Context, send Sender) error {
	l.fwd.Lock()
	defer l.fwd.Unlock()
	for {
		off := l.cursor()
		evs, next, err := l.read(off)
		if err != nil || len(evs) == 0 {
			return err
		}
		if err := send(ctx, evs); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(l.dir, cursorName), []byte(strconv.FormatInt(next, 10)), 0o600); err != nil {
			return fmt.Errorf("auditlog: %w", err)
		}
	}
}

// Pending counts records not yet forwarded.
func (l *Log) Pending() (int, error) {
	n := 0
	off := l.cursor()
	for {
		evs, next, err := l.read(off)
		if err != nil || len(evs) == 0 {
			return n, err
		}
		n, off = n+len(evs), next
	}
}

// All returns every record in the local trail.
func (l *Log) All() ([]wire.AuditEvent, error) {
	var out []wire.AuditEvent
	var off int64
	for {
		evs, next, err := l.read(off)
		if err != nil || len(evs) == 0 {
			return out, err
		}
		out, off = append(out, evs...), next
	}
}

func (l *Log) cursor() int64 {
	b, err := os.ReadFile(filepath.Join(l.dir, cursorName))
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// read returns up to batchMax complete records starting at byte offset off
// of the trail and the offset after them (see decode).
func (l *Log) read(off int64) ([]wire.AuditEvent, int64, error) {
	f, err := os.Open(filepath.Join(l.dir, logName))
	if err != nil {
		return nil, off, fmt.Errorf("auditlog: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, off, fmt.Errorf("auditlog: %w", err)
	}
	return decode(f, off, func(at int64, err error) {
		l.log.Warn("skipping a damaged audit record", "offset", at, "err", err)
	})
}

// decode reads up to batchMax complete records from r, the trail from byte
// offset off on, and returns them with the offset after them. A torn last
// line (a crash mid-write) is left for later; a damaged line is skipped and
// reported to skip with its offset. It fails only if r does.
func decode(r io.Reader, off int64, skip func(off int64, err error)) ([]wire.AuditEvent, int64, error) {
	br := bufio.NewReaderSize(r, lineMax)
	var out []wire.AuditEvent
	for len(out) < batchMax {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) { // the end, or a torn final line: stop before it
			break
		}
		if err != nil {
			return out, off, fmt.Errorf("auditlog: %w", err)
		}
		off += int64(len(line))
		var ev wire.AuditEvent
		if err := json.Unmarshal(bytes.TrimSpace(line), &ev); err != nil {
			skip(off-int64(len(line)), err)
			continue
		}
		out = append(out, ev)
	}
	return out, off, nil
}
