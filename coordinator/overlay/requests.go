package overlay

import (
	"context"
	"net/http"
	"sync"
)

// requests counts the requests the overlay's handler serves and ends them
// at Close. The coordinator's net/http server does not wait for handlers
// when it closes, and forgets a connection once a handler takes it over:
// a DERP connection is served inside its handler for as long as the node
// stays, and a Noise connection by Headscale (CloseNoiseConns) after its
// handler returned.
type requests struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup

	// done ends every request's context at close; DERP connections end
	// with it.
	done   context.Context
	cancel context.CancelFunc
}

func newRequests() *requests {
	q := &requests{}
	q.done, q.cancel = context.WithCancel(context.Background())
	return q
}

// serve wraps h: each request is counted, and its context ends when it
// does or at close; after close it is refused.
func (q *requests) serve(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			http.Error(w, "overlay: closed", http.StatusServiceUnavailable)
			return
		}
		q.wg.Add(1)
		q.mu.Unlock()
		defer q.wg.Done()

		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		defer context.AfterFunc(q.done, cancel)()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// close refuses new requests and ends the contexts of those being served.
func (q *requests) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cancel()
}

// wait returns once every request served before close has returned.
func (q *requests) wait() { q.wg.Wait() }
