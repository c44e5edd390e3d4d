package desk

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a token bucket per key (a client IP): n events per window,
// with bursts of up to burst. It forgets keys idle for a window and holds at
// most maxKeys, so a flood of addresses cannot exhaust memory; when full, a
// new key is refused rather than an old one forgotten early.
type limiter struct {
	every time.Duration
	burst int
	now   func() time.Time

	mu    sync.Mutex
	keys  map[string]*limitEntry
	swept time.Time
}

type limitEntry struct {
	l    *rate.Limiter
	last time.Time
}

const maxKeys = 100_000

func newLimiter(n int, window time.Duration, burst int, now func() time.Time) *limiter {
	return &limiter{every: window / time.Duration(n), burst: burst, now: now, keys: map[string]*limitEntry{}}
}

// allow reports whether one more event for key is within the limit.
func (l *limiter) allow(key string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		idle := l.every * time.Duration(l.burst)
		for k, e := range l.keys {
			if now.Sub(e.last) > idle {
				delete(l.keys, k)
			}
		}
		l.swept = now
	}
	e, ok := l.keys[key]
	if !ok {
		if len(l.keys) >= maxKeys {
			return false
		}
		e = &limitEntry{l: rate.NewLimiter(rate.Every(l.every), l.burst)}
		l.keys[key] = e
	}
	e.last = now
	return e.l.AllowN(now, 1)
}
