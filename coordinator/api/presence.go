package api

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/wire"
)

// Presence tracks agents' heartbeats in memory. Heartbeats are frequent and
// only their latest time matters, so they are not written to the store.
type Presence struct {
	grace time.Duration
	now   func() time.Time

	mu      sync.Mutex
	seen    map[string]time.Time
	streams map[string]*stream // each device's open presence stream
	closed  bool
	running sync.WaitGroup // open streams: Add in open, Done in their done
}

// stream is one open presence stream; end stops it from outside.
type stream struct{ end func() }

// NewPresence returns a tracker that considers a device online for grace
// after its last heartbeat.
func NewPresence(grace time.Duration, now func() time.Time) *Presence {
	if now == nil {
		now = time.Now
	}
	return &Presence{grace: grace, now: now, seen: map[string]time.Time{}, streams: map[string]*stream{}}
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

// open records that device's presence stream opened and marks it online;
// end stops the stream. A device holds one stream: a newer one ends the
// one before (an agent that reconnected before its old connection timed
// out), so a device cannot pile up connections. done must be called once
// the stream has ended and nothing of it runs any more; it marks the
// device offline unless a newer stream has taken over, and Close waits for
// it. ok is false once the tracker is closed.
func (p *Presence) open(device string, end func()) (done func(), ok bool) {
	st := &stream{end: end}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false
	}
	old := p.streams[device]
	p.streams[device] = st
	p.seen[device] = p.now()
	p.running.Add(1) // under mu: Close, which sets closed under mu, cannot be waiting yet
	p.mu.Unlock()
	if old != nil {
		old.end()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			defer p.running.Done()
			p.mu.Lock()
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

// handlePresence keeps a device online while its presence stream ticks.
func (s *Server) handlePresence(w http.ResponseWriter, r *http.Request, dev enroll.Device) {
	if hj, ok := w.(http.Hijacker); ok && r.ProtoMajor == 1 {
		s.presenceConn(hj, dev)
		return
	}
	rc := http.NewResponseController(w)
	// HTTP/1.1 stops reading a request's body once the answer started,
	// unless asked not to (HTTP/2 always interleaves).
	if err := rc.EnableFullDuplex(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.log.Warn("presence: no full duplex; stream refused", "err", err)
		return
	}
	// The end sets the flag before moving the deadline to the past; the
	// loop moves it forward before looking at the flag: either the loop
	// sees the flag or its read sees the past deadline.
	var ended atomic.Bool
	done, ok := s.cfg.Presence.open(dev.ID, func() {
		ended.Store(true)
		rc.SetReadDeadline(time.Unix(1, 0)) //nolint:errcheck // the flag ends the loop too
	})
	if !ok {
		writeError(w, http.StatusServiceUnavailable, wire.CodeInternal, "the coordinator is stopping")
		return
	}
	defer done()
	// The answer's headers go out first, so the agent knows it is heard.
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	buf := make([]byte, 64)
	for {
		if err := rc.SetReadDeadline(time.Now().Add(wire.PresenceTimeout)); err != nil {
			s.log.Warn("presence: no read deadline; stream refused", "err", err)
			return
		}
		if ended.Load() {
			return
		}
		n, err := r.Body.Read(buf)
		if n > 0 {
			s.cfg.Presence.Seen(dev.ID)
		}
		if err != nil {
			return
		}
	}
}

// presenceConn serves a presence stream over HTTP/1.1 on the connection
// itself, taken from net/http: a fleet holds one stream per agent, and
// net/http would keep ~10 KB of buffers and a deep handler stack for each
// while it only reads ticks. The request body's chunk framing is read as
// it comes: any byte is a sign of life.
func (s *Server) presenceConn(hj http.Hijacker, dev enroll.Device) {
	conn, brw, err := hj.Hijack()
	if err != nil {
		s.log.Warn("presence: taking the connection failed", "err", err)
		return
	}
	done, ok := s.cfg.Presence.open(dev.ID, func() { conn.Close() })
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
	go holdPresence(conn, dev.ID, s.cfg.Presence, done)
}

// holdPresence reads a taken presence connection until it breaks or stays
// quiet for wire.PresenceTimeout.
func holdPresence(conn net.Conn, device string, p *Presence, done func()) {
	defer done()
	defer conn.Close()
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
