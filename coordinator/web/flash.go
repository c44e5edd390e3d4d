package web

import (
	"net/http"
	"sync"
	"time"

	templates "github.com/peerdesk/peerdesk/templates/dashboard"
)

// Post-redirect-get: every form that succeeds answers 303 to a page, so a
// reload never sends it again. What the form produced — a new support code,
// an enrollment token, an API key, recovery codes, a notice — waits for
// that page in a flash: server-side, keyed by the hash of the session token
// and the page's path, taken by the first GET of the page, gone after
// flashTTL. Secrets never go into the URL.

// flashTTL is how long a flash waits for its page.
const flashTTL = time.Minute

// maxFlashes bounds the flashes held at once; beyond it the oldest goes.
const maxFlashes = 4096

// flash is what one page shows after its form succeeded.
type flash struct {
	notice   string
	code     *templates.CreatedCode    // Support: the code just generated
	assign   string                    // Support: the generate form as sent
	expiry   string                    //
	token    *templates.CreatedToken   // Enrollment tokens: the token just created
	portal   string                    // the portal's ready page: the code checked
	settings settingsForm              // Settings: TOTP setup, recovery codes, new API key, notice
	webhook  *templates.CreatedWebhook // Webhooks: the webhook just added, with its secret
}

type flashEntry struct {
	f       flash
	expires time.Time
}

// flashes holds the flashes waiting for their pages.
type flashes struct {
	mu sync.Mutex
	m  map[string]flashEntry
}

func newFlashes() *flashes { return &flashes{m: map[string]flashEntry{}} }

func flashKey(token, path string) string { return sessionKey(token) + " " + path }

// put leaves f for the next GET of path by the session token, for
// flashTTL.
func (fl *flashes) put(token, path string, f flash, now time.Time) {
	fl.putFor(token, path, f, now, flashTTL)
}

// putFor is put for a lifetime of ttl.
func (fl *flashes) putFor(token, path string, f flash, now time.Time, ttl time.Duration) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	oldest, oldestAt := "", time.Time{}
	for k, e := range fl.m {
		if !now.Before(e.expires) {
			delete(fl.m, k)
			continue
		}
		if oldest == "" || e.expires.Before(oldestAt) {
			oldest, oldestAt = k, e.expires
		}
	}
	if len(fl.m) >= maxFlashes {
		delete(fl.m, oldest)
	}
	fl.m[flashKey(token, path)] = flashEntry{f: f, expires: now.Add(ttl)}
}

// take returns and removes the session's flash for path.
func (fl *flashes) take(token, path string, now time.Time) (flash, bool) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	k := flashKey(token, path)
	e, ok := fl.m[k]
	delete(fl.m, k)
	if !ok || !now.Before(e.expires) {
		return flash{}, false
	}
	return e.f, true
}

// done ends a form that succeeded: f waits for the page at path, and the
// browser is sent there.
func (s *server) done(w http.ResponseWriter, r *http.Request, sess session, path string, f flash) {
	s.flashes.put(sess.token, path, f, s.now())
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// flashFor takes what a form left for this page.
func (s *server) flashFor(sess session, path string) flash {
	f, _ := s.flashes.take(sess.token, path, s.now())
	return f
}
