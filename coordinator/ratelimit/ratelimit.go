// Package ratelimit is the coordinator's token-bucket limiter: one bucket
// per key (a client network, a user, a device) in bounded memory that can
// never be filled so as to refuse newcomers (M3).
//
// # Keys
//
// A client is keyed by its network, not its address string: an IPv4
// address is its own key, an IPv6 address is keyed by its /64 (the smallest
// network a site is given, so an attacker sweeping the 2^64 addresses of one
// /64 uses one bucket), and an IPv4-mapped IPv6 address is the IPv4 one.
// See [AddrKey] and [RemoteKey].
//
// # Memory
//
// A [Limiter] holds at most MaxKeys buckets. When it is full, a new key
// evicts the least recently used bucket instead of being refused (the old
// limiter refused every unknown address once a sweep had filled it). An
// evicted bucket that had refilled loses nothing; one that had not gives its
// key a fresh burst, which needs MaxKeys other keys to have been seen since
// its last use: an attacker with that many networks is bounded by the
// global budget, not the per-key one.
//
// # Budgets
//
// [Codes] holds the shipped budgets for support codes: the public portal
// (per client network, and a global cap over all of them) and technicians
// (per user, apart from the portal, so a portal flood cannot stop a
// technician redeeming). The odds an attacker has of hitting a live code
// are computed from them in [Codes]' documentation and checked by
// TestM3OneSlash64OddsPerDay.
package ratelimit

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Config configures a Limiter.
type Config struct {
	// Every is the time in which one token is refilled.
	Every time.Duration
	// Burst is the bucket's size: how many events may come at once.
	Burst int
	// MaxKeys bounds the buckets held; 0 means DefaultMaxKeys.
	MaxKeys int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultMaxKeys is the default bound on buckets (about 100 bytes each).
const DefaultMaxKeys = 100_000

// PerDay is how many events one key can have in a day at most: a full
// bucket, then one per Every.
func (c Config) PerDay() int {
	return c.Burst + int(24*time.Hour/c.Every)
}

// Limiter is a token bucket per key. Its zero value is not usable; make
// one with New. It is safe for concurrent use.
type Limiter struct {
	every   time.Duration
	burst   float64
	maxKeys int
	now     func() time.Time

	mu   sync.Mutex
	keys map[string]*entry
	// head is the most recently used entry, tail the least; a ring
	// through a sentinel keeps unlink and push free of nil checks.
	ring entry
}

type entry struct {
	key        string
	tokens     float64
	last       time.Time
	prev, next *entry
}

// New returns a Limiter. Every and Burst must be positive.
func New(cfg Config) *Limiter {
	if cfg.Every <= 0 || cfg.Burst <= 0 {
		panic(fmt.Sprintf("ratelimit.New: Every (%v) and Burst (%d) must be positive", cfg.Every, cfg.Burst))
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{every: cfg.Every, burst: float64(cfg.Burst), maxKeys: cfg.MaxKeys, now: cfg.Now, keys: map[string]*entry{}}
	l.ring.prev, l.ring.next = &l.ring, &l.ring
	return l
}

// Allow reports whether one more event for key is within the limit, and
// if so takes its token.
func (l *Limiter) Allow(key string) bool { return l.AllowN(key, 1) }

// AllowN reports whether n more events for key are within the limit, and
// if so takes their tokens; if not, it takes none. n larger than the burst
// is never allowed.
func (l *Limiter) AllowN(key string, n int) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entry(key, now)
	if el := now.Sub(e.last); el > 0 {
		e.tokens = min(l.burst, e.tokens+float64(el)/float64(l.every))
		e.last = now
	}
	if e.tokens < float64(n) {
		return false
	}
	e.tokens -= float64(n)
	return true
}

// Refund gives back one token that Allow took for key, for an event that
// turned out not to count (a right support code): up to the burst, and
// nothing if key's bucket has been evicted since.
func (l *Limiter) Refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.keys[key]; ok {
		e.tokens = min(l.burst, e.tokens+1)
	}
}

// Len is the number of buckets held.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// entry returns key's bucket, most recently used now, creating it full
// (evicting the least recently used bucket if the limiter is full).
func (l *Limiter) entry(key string, now time.Time) *entry {
	if e, ok := l.keys[key]; ok {
		l.unlink(e)
		l.push(e)
		return e
	}
	var e *entry
	if len(l.keys) >= l.maxKeys {
		e = l.ring.prev // the least recently used
		l.unlink(e)
		delete(l.keys, e.key)
	} else {
		e = new(entry)
	}
	e.key, e.tokens, e.last = key, l.burst, now
	l.keys[key] = e
	l.push(e)
	return e
}

func (l *Limiter) unlink(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (l *Limiter) push(e *entry) {
	e.prev, e.next = &l.ring, l.ring.next
	l.ring.next.prev = e
	l.ring.next = e
}

// AddrKey is the key of a client address: an IPv4 address itself, an
// IPv6 address's /64. The zone is dropped and an IPv4-mapped IPv6 address
// is its IPv4 address.
func AddrKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is4() || !a.IsValid() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// RemoteKey is the key of an http.Request's RemoteAddr ("host:port" or a
// bare address); a value that is not an address is its own key.
func RemoteKey(remote string) string {
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	return AddrKey(a)
}
