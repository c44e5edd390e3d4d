package api

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/grant"
	"github.com/peerdesk/peerdesk/wire"
)

// Presence tracks agents' heartbeats in memory, and holds each device's
// presence stream, down which it sends messages (wire.PresenceMessage).
// Heartbeats are frequent and only their latest time matters, so they are
// not written to the store.
//
// # Messages down the streams
//
// Broadcast and Send put a message on each stream's queue and return: they
// never wait for an agent. A small pool of writer goroutines (at most
// maxWriters, started when there is something to write and gone when
// there is not) drains the queues, each write under a deadline. A stream
// whose queue is full, or whose write fails or times out (an agent that
// does not read: a stalled machine, a broken network), is ended; the
// agent reconnects. Broadcast messages are kept for replayFor (the longest
// a grant lives, with its skew) and sent to every stream that opens in
// that time, so an agent whose stream was down or dropped when a
// revocation went out learns it when it is back.
type Presence struct {
	grace time.Duration
	now   func() time.Time

	mu      sync.Mutex
	seen    map[string]time.Time
	streams map[string]*stream // each device's open presence stream
	closed  bool
	running sync.WaitGroup // open streams: Add in open, Done in their done

	ready   []*stream      // streams with queued messages and no writer
	writers int            // writer goroutines running
	busy    int            // of them, writing to a stream now
	writing sync.WaitGroup // writer goroutines
	recent  []sent         // broadcast messages, replayed to streams that open later

	// Tuning; tests shrink it.
	queueMax     int           // messages a stream may have waiting
	writeTimeout time.Duration // for one write to one stream
	replayFor    time.Duration // how long a broadcast message is replayed
	replayMax    int           // broadcast messages kept for replay
}

// Limits of the messages down the streams.
const (
	maxWriters          = 8
	defaultQueueMax     = 128
	defaultReplayMax    = 64
	defaultWriteTimeout = wire.PresenceTimeout
	defaultReplayFor    = grant.MaxLifetime + grant.ClockSkew
)

// sent is a broadcast message kept for replay.
type sent struct {
	line []byte // encoded, newline included; never changes
	at   time.Time
}

// errStreamEnded is a write to a stream whose handler has returned.
var errStreamEnded = errors.New("presence: the stream has ended")

// stream is one open presence stream; end stops it from outside.
type stream struct {
	device string
	end    func()

	// Under Presence.mu.
	write     func(lines [][]byte) error // with a deadline; nil until the answer's headers are out
	queue     [][]byte                   // encoded lines (shared, never changed) waiting
	scheduled bool                       // in Presence.ready, or being written
	ended     bool
}

// NewPresence returns a tracker that considers a device online for grace
// after its last heartbeat.
func NewPresence(grace time.Duration, now func() time.Time) *Presence {
	if now == nil {
		now = time.Now
	}
	return &Presence{
		grace: grace, now: now, seen: map[string]time.Time{}, streams: map[string]*stream{},
		queueMax: defaultQueueMax, writeTimeout: defaultWriteTimeout, replayFor: defaultReplayFor, replayMax: defaultReplayMax,
	}
}

// Seen records a heartbeat from device.
func (p *Presence) Seen(device string) {
	p.mu.Lock()
	p.seen[device] = p.now()
	p.mu.Unlock()
}

// Gone marks device offline now: its presence stream ended.
func (p *Presence) Gone(device string) {
	p.mu.Lock()
	if t, ok := p.seen[device]; ok {
		p.seen[device] = t.Add(-p.grace - time.Nanosecond)
	}
	p.mu.Unlock()
}

// Broadcast sends msg down every open presence stream, and down every
// stream that opens within the replay window (an agent that was
// reconnecting). A zero msg.At is set to now. It returns once msg is
// queued: it never waits for an agent. Streams whose queue is full are
// ended. The error is for a message that does not pass its Check.
func (p *Presence) Broadcast(msg wire.PresenceMessage) error {
	p.mu.Lock()
	now := p.now()
	p.mu.Unlock()
	if msg.At.IsZero() {
		msg.At = now
	}
	line, err := wire.EncodePresenceMessage(msg)
	if err != nil {
		return fmt.Errorf("presence.Broadcast: %w", err)
	}
	p.mu.Lock()
	p.recent = append(p.pruneLocked(now), sent{line: line, at: now})
	if len(p.recent) > p.replayMax {
		p.recent = slices.Delete(p.recent, 0, len(p.recent)-p.replayMax)
	}
	var full []*stream
	for _, st := range p.streams {
		if !p.enqueueLocked(st, line) {
			full = append(full, st)
		}
	}
	p.mu.Unlock()
	for _, st := range full {
		st.end() // a stream that does not keep up is dropped, not waited on
	}
	return nil
}

// Send sends msg down device's presence stream, if one is open; false
// means none is (or its queue was full, and it has been ended). It is not
// replayed.
func (p *Presence) Send(device string, msg wire.PresenceMessage) (bool, error) {
	if msg.At.IsZero() {
		p.mu.Lock()
		msg.At = p.now()
		p.mu.Unlock()
	}
	line, err := wire.EncodePresenceMessage(msg)
	if err != nil {
		return false, fmt.Errorf("presence.Send: %w", err)
	}
	p.mu.Lock()
	st := p.streams[device]
	ok := st != nil && p.enqueueLocked(st, line)
	p.mu.Unlock()
	if st != nil && !ok {
		st.end()
	}
	return ok, nil
}

// End ends device's presence stream, if one is open (the device was
// removed: its credentials no longer open a new one); false if none was.
func (p *Presence) End(device string) bool {
	p.mu.Lock()
	st := p.streams[device]
	p.mu.Unlock()
	if st != nil {
		st.end()
	}
	return st != nil
}

// pruneLocked drops broadcast messages older than the replay window.
func (p *Presence) pruneLocked(now time.Time) []sent {
	i := 0
	for i < len(p.recent) && now.Sub(p.recent[i].at) > p.replayFor {
		i++
	}
	return slices.Delete(p.recent, 0, i)
}

// enqueueLocked queues line on st; false means st's queue is full and st
// must be ended.
func (p *Presence) enqueueLocked(st *stream, line []byte) bool {
	if st.ended {
		return true
	}
	if len(st.queue) >= p.queueMax {
		return false
	}
	st.queue = append(st.queue, line)
	p.scheduleLocked(st)
	return true
}

// scheduleLocked hands st to a writer if it has something to write and a
// way to write it, starting a writer if fewer than maxWriters run.
func (p *Presence) scheduleLocked(st *stream) {
	if st.scheduled || st.ended || st.write == nil || len(st.queue) == 0 {
		return
	}
	st.scheduled = true
	p.ready = append(p.ready, st)
	// A writer stuck on a stalled stream (until its deadline) must not
	// hold up the others: start one unless enough are free.
	if p.writers < maxWriters && p.writers-p.busy < len(p.ready) {
		p.writers++
		p.writing.Add(1)
		go p.writer()
	}
}

// writer writes queued messages until no stream has any.
func (p *Presence) writer() {
	defer p.writing.Done()
	for {
		p.mu.Lock()
		if len(p.ready) == 0 {
			p.writers--
			p.mu.Unlock()
			return
		}
		st := p.ready[0]
		p.ready[0] = nil
		p.ready = p.ready[1:]
		lines, write, ended := st.queue, st.write, st.ended
		st.queue = nil
		p.busy++
		p.mu.Unlock()

		var err error
		if !ended {
			err = write(lines)
		}

		p.mu.Lock()
		p.busy--
		st.scheduled = false
		if err == nil {
			p.scheduleLocked(st) // what came while it was written
		}
		p.mu.Unlock()
		if err != nil && !errors.Is(err, errStreamEnded) {
			st.end() // an agent that does not take its messages is dropped
		}
	}
}

// open records that device's presence stream opened and marks it online;
// end stops the stream. A device holds one stream: a newer one ends the
// one before (an agent that reconnected before its old connection timed
// out), so a device cannot pile up connections. done must be called once
// the stream has ended and nothing of it runs any more; it marks the
// device offline unless a newer stream has taken over, and Close waits for
// it. ok is false once the tracker is closed. Messages are queued from
// here on (the replayed ones first), and written once attach gives the
// stream its writer.
func (p *Presence) open(device string, end func()) (st *stream, done func(), ok bool) {
	st = &stream{device: device, end: end}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, nil, false
	}
	old := p.streams[device]
	p.streams[device] = st
	p.seen[device] = p.now()
	p.recent = p.pruneLocked(p.now())
	for _, m := range p.recent {
		st.queue = append(st.queue, m.line)
	}
	p.running.Add(1) // under mu: Close, which sets closed under mu, cannot be waiting yet
	p.mu.Unlock()
	if old != nil {
		old.end()
	}
	var once sync.Once
	return st, func() {
		once.Do(func() {
			defer p.running.Done()
			p.mu.Lock()
			st.ended, st.queue = true, nil
			current := p.streams[device] == st
			if current {
				delete(p.streams, device)
			}
			p.mu.Unlock()
			if current {
				p.Gone(device)
			}
		})
	}, true
}

// attach gives st its writer once the answer's headers are out: queued
// messages go from now on.
func (p *Presence) attach(st *stream, write func(lines [][]byte) error) {
	p.mu.Lock()
	st.write = write
	p.scheduleLocked(st)
	p.mu.Unlock()
}

// Close ends every presence stream, refuses new ones and returns once the
// streams have ended (the coordinator is stopping; streams on connections
// taken from net/http would outlive its server, and their goroutines with
// them).
func (p *Presence) Close() {
	p.mu.Lock()
	p.closed = true
	streams := make([]*stream, 0, len(p.streams))
	for _, st := range p.streams {
		streams = append(streams, st) // each removes itself as it ends
	}
	p.mu.Unlock()
	for _, st := range streams {
		st.end()
	}
	p.running.Wait()
	p.writing.Wait() // every stream has ended: the writers find nothing more to write
}

// Forget drops a device.
func (p *Presence) Forget(device string) {
	p.mu.Lock()
	delete(p.seen, device)
	p.mu.Unlock()
}

// LastSeen returns the device's last heartbeat and whether it is online.
func (p *Presence) LastSeen(device string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.seen[device]
	return t, ok && p.now().Sub(t) <= p.grace
}

// presenceOK is the whole answer to a presence stream over HTTP/1.1: the
// body runs until the connection closes, and nothing more is sent.
const presenceOK = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"

// presenceStopping refuses a stream while the coordinator stops.
const presenceStopping = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 27\r\nConnection: close\r\n\r\nthe coordinator is stopping"

// handlePresence keeps a device online while its presence stream ticks;
// once the stream is open, the consent rules that apply to the device
// are queued on it.
func (s *Server) handlePresence(w http.ResponseWriter, r *http.Request, dev enroll.Device) {
	s.cfg.Presence.serve(w, r, dev.ID, s.log, func() { s.desk.SendConsentRules(dev.ID) })
}

// Serve serves the presence stream of device, whose credentials the
// caller has checked: the device is online while the stream ticks, and
// messages go down it. Over HTTP/1.1 it takes the connection from
// net/http and returns at once; over HTTP/2 it returns when the stream
// ends.
func (p *Presence) Serve(w http.ResponseWriter, r *http.Request, device string) {
	p.serve(w, r, device, slog.New(slog.DiscardHandler), nil)
}

// serve serves device's stream; opened, if not nil, is called once the
// stream is open (what it queues with Send goes down this stream).
func (p *Presence) serve(w http.ResponseWriter, r *http.Request, device string, log *slog.Logger, opened func()) {
	if hj, ok := w.(http.Hijacker); ok && r.ProtoMajor == 1 {
		p.serveConn(hj, device, log, opened)
		return
	}
	rc := http.NewResponseController(w)
	// HTTP/1.1 stops reading a request's body once the answer started,
	// unless asked not to (HTTP/2 always interleaves).
	if err := rc.EnableFullDuplex(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		log.Warn("presence: no full duplex; stream refused", "err", err)
		return
	}
	// The end sets the flag before moving the deadlines to the past; the
	// loop moves the read deadline forward before looking at the flag:
	// either the loop sees the flag or its read sees the past deadline.
	// The write deadline in the past ends a write that hangs. Once the
	// handler is returning, w is not to be touched: the end (which may
	// come from a writer or Broadcast after that) only sets the flag.
	var (
		ended    atomic.Bool
		emu      sync.Mutex // guards returning for the end
		returned bool
		wmu      sync.Mutex // one write at a time, and none once finished
		finished bool
	)
	st, done, ok := p.open(device, func() {
		ended.Store(true)
		emu.Lock()
		defer emu.Unlock()
		if !returned {
			rc.SetReadDeadline(time.Unix(1, 0))  //nolint:errcheck // the flag ends the loop too
			rc.SetWriteDeadline(time.Unix(1, 0)) //nolint:errcheck // a write in flight fails; the stream is ending anyway
		}
	})
	if !ok {
		writeError(w, http.StatusServiceUnavailable, wire.CodeInternal, "the coordinator is stopping")
		return
	}
	defer done()
	if opened != nil {
		opened()
	}
	// The writers write through w only while this handler runs: once it
	// is about to return, finished stops them (waiting for a write in
	// flight, which its deadline bounds).
	defer func() {
		ended.Store(true) // no new write starts
		emu.Lock()
		rc.SetWriteDeadline(time.Unix(1, 0)) //nolint:errcheck // ends a write in flight; the handler is returning
		returned = true
		emu.Unlock()
		wmu.Lock()
		finished = true
		wmu.Unlock()
	}()
	// The answer's headers go out first, so the agent knows it is heard.
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	timeout := p.writeTimeout
	p.attach(st, func(lines [][]byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		if finished || ended.Load() {
			return errStreamEnded
		}
		if err := rc.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
			return err
		}
		var err error
		for _, l := range lines {
			if _, err = w.Write(l); err != nil {
				break
			}
		}
		if err == nil {
			err = rc.Flush()
		}
		// An HTTP/2 stream whose write deadline passes is reset, written
		// to or not.
		if derr := rc.SetWriteDeadline(time.Time{}); err == nil {
			err = derr
		}
		return err
	})
	buf := make([]byte, 64)
	for {
		if err := rc.SetReadDeadline(time.Now().Add(wire.PresenceTimeout)); err != nil {
			log.Warn("presence: no read deadline; stream refused", "err", err)
			return
		}
		if ended.Load() {
			return
		}
		n, err := r.Body.Read(buf)
		if n > 0 {
			p.Seen(device)
		}
		if err != nil {
			return
		}
	}
}

// serveConn serves a presence stream over HTTP/1.1 on the connection
// itself, taken from net/http: a fleet holds one stream per agent, and
// net/http would keep ~10 KB of buffers and a deep handler stack for each
// while it only reads ticks. The request body's chunk framing is read as
// it comes: any byte is a sign of life. The answer's body runs until the
// connection closes; messages are written to it as they are.
func (p *Presence) serveConn(hj http.Hijacker, device string, log *slog.Logger, opened func()) {
	conn, brw, err := hj.Hijack()
	if err != nil {
		log.Warn("presence: taking the connection failed", "err", err)
		return
	}
	// Ending a stream closes the connection under TLS: tls.Conn.Close
	// would first write close_notify, which on a stalled agent's full
	// socket waits out its deadline; and each writer that came meanwhile
	// moved that deadline on (SetWriteDeadline is the connection's), so a
	// stalled stream was never dropped while broadcasts kept coming. Once
	// ended, the writer refuses before touching the connection.
	raw := conn
	if tc, isTLS := conn.(*tls.Conn); isTLS {
		raw = tc.NetConn()
	}
	var ended atomic.Bool
	end := func() {
		ended.Store(true)
		raw.Close()
	}
	st, done, ok := p.open(device, end)
	if !ok {
		io.WriteString(conn, presenceStopping) //nolint:errcheck // closing anyway
		conn.Close()
		return
	}
	if _, err := io.WriteString(conn, presenceOK); err != nil {
		conn.Close()
		done()
		return
	}
	// What net/http had read ahead is ticks too.
	brw.Reader.Discard(brw.Reader.Buffered()) //nolint:errcheck // only counted
	if opened != nil {
		opened()
	}
	timeout := p.writeTimeout
	p.attach(st, func(lines [][]byte) error {
		// One writer at a time (the stream is scheduled once); a write
		// racing the connection's Close fails, which is all it may do.
		if ended.Load() {
			return errStreamEnded
		}
		if err := conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
			return err
		}
		_, err := conn.Write(bytes.Join(lines, nil))
		return err
	})
	go holdPresence(conn, device, p, func() { end(); done() })
}

// holdPresence reads a taken presence connection until it breaks or stays
// quiet for wire.PresenceTimeout.
func holdPresence(conn net.Conn, device string, p *Presence, done func()) {
	defer done() // closes the connection
	buf := make([]byte, 64)
	for {
		if err := conn.SetReadDeadline(time.Now().Add(wire.PresenceTimeout)); err != nil {
			return
		}
		n, err := conn.Read(buf)
		if n > 0 {
			p.Seen(device)
		}
		if err != nil {
			return
		}
	}
}
