package webhooks

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"tailscale.com/tstest"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/wire"
)

func TestMain(m *testing.M) { netns.Main(m) }

var t0 = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

// receiver is a PSA's endpoint: it verifies each delivery's signature
// against the clock, fails the first fails attempts with 503 and records
// what it accepted.
type receiver struct {
	t      *testing.T
	secret string
	clock  *tstest.Clock
	mu     sync.Mutex
	fails  int
	tries  []time.Time
	got    []string // bodies accepted
	ids    []string // their delivery ids
	srv    *httptest.Server
}

func newReceiver(t *testing.T, secret string, clock *tstest.Clock, fails int) *receiver {
	r := &receiver{t: t, secret: secret, clock: clock, fails: fails}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if err := Verify(r.secret, req.Header, body, r.clock.Now(), 5*time.Minute); err != nil {
			t.Errorf("receiver: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.tries = append(r.tries, r.clock.Now())
		if r.fails > 0 {
			r.fails--
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		r.got = append(r.got, string(body))
		r.ids = append(r.ids, req.Header.Get(wire.HeaderWebhookDelivery))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) accepted() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func run(t *testing.T, d *Dispatcher) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { d.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// TestRetryWithBackoff: a receiver that verifies the signature and fails
// three times gets the delivery on the fourth attempt, after waits of
// Backoff, 2×Backoff and 4×Backoff on the injected clock; the log shows
// each attempt; the delivery id is the same each time.
func TestRetryWithBackoff(t *testing.T) {
	leak.Check(t)
	db, err := store.OpenInMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // after Run has stopped: cleanups run last first
	clock := tstest.NewClock(tstest.ClockOpts{Start: t0})
	const secret = "a-shared-secret-of-the-psa"
	rcv := newReceiver(t, secret, clock, 3)
	d, err := New(Config{DB: db, Clock: clock, Backoff: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h, err := d.Create(wire.WebhookCreate{URL: rcv.srv.URL + "/hook", Events: []string{wire.EventTicketCreated}, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.Enqueue(wire.EventTicketUpdated, map[string]string{"ticket": "T-1"}); n != 0 || err != nil {
		t.Fatalf("an event nobody subscribed to: %d, %v", n, err)
	}
	if n, err := d.Enqueue(wire.EventTicketCreated, map[string]string{"ticket": "T-1001"}); n != 1 || err != nil {
		t.Fatalf("enqueue: %d, %v", n, err)
	}
	run(t, d)
	// Each failed attempt's wait is read where the attempt is recorded:
	// the queued delivery's next time against the attempt's, both under
	// the dispatcher's lock, so the clock running on does not blur it.
	waits := map[int]time.Duration{}
	wait.For(t, "the delivery accepted", func() bool {
		if len(rcv.accepted()) > 0 {
			return true
		}
		d.mu.Lock()
		var last wire.WebhookDelivery
		err := db.View(func(tx store.Tx) error {
			return tx.Scan(nsLog, h.ID+"/", func(_ string, v []byte) error { return store.Decode(v, &last) })
		})
		if err == nil && last.Outcome == "retry" && len(d.queue) == 1 {
			waits[last.Attempt] = d.queue[0].Next.Sub(last.Time)
		}
		d.mu.Unlock()
		clock.Advance(time.Second)
		return false
	})
	if diff := cmp.Diff([]string{`{"ticket":"T-1001"}`}, rcv.accepted()); diff != "" {
		t.Errorf("accepted (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[int]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second}, waits); diff != "" {
		t.Errorf("waits after each failed attempt (-want +got):\n%s", diff)
	}
	rcv.mu.Lock()
	if len(rcv.tries) != 4 {
		t.Errorf("%d attempts reached the receiver, want 4", len(rcv.tries))
	}
	rcv.mu.Unlock()
	wait.For(t, "the queue empty", func() bool { return d.Queued() == 0 })
	log, err := d.Deliveries(h.ID)
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, l := range log {
		outcomes = append(outcomes, l.Outcome)
		if l.Delivery != rcv.ids[0] {
			t.Errorf("attempt %d has delivery id %s, the receiver saw %s", l.Attempt, l.Delivery, rcv.ids[0])
		}
	}
	if diff := cmp.Diff([]string{"delivered", "retry", "retry", "retry"}, outcomes); diff != "" {
		t.Errorf("log, newest first (-want +got):\n%s", diff)
	}
	if log[1].Status != http.StatusServiceUnavailable {
		t.Errorf("a failed attempt's status: %d", log[1].Status)
	}
	if l := d.List(); len(l) != 1 || l[0].Secret != "" {
		t.Errorf("list %+v: the secret is shown once only", l)
	}
}

// TestDurableQueue: deliveries queued while the receiver is down are in
// the store: a new Dispatcher over it (a restarted coordinator) sends
// them once the receiver answers; one that always fails is given up after
// MaxAttempts.
func TestDurableQueue(t *testing.T) {
	leak.Check(t)
	dir := t.TempDir()
	db, err := store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := tstest.NewClock(tstest.ClockOpts{Start: t0})
	const secret = "another-shared-secret"
	d, err := New(Config{DB: db, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(t, secret, clock, 0)
	if _, err := d.Create(wire.WebhookCreate{URL: rcv.srv.URL, Events: wire.WebhookEvents, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{wire.EventTicketCreated, wire.EventTicketCommented} {
		if _, err := d.Enqueue(e, map[string]string{"event": e}); err != nil {
			t.Fatal(err)
		}
	}
	// No Run: the coordinator stops before sending.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // after Run has stopped: cleanups run last first
	d, err = New(Config{DB: db, Clock: clock, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	if d.Queued() != 2 {
		t.Fatalf("%d queued after the restart", d.Queued())
	}
	run(t, d)
	wait.For(t, "both delivered in order", func() bool { return len(rcv.accepted()) == 2 })
	if diff := cmp.Diff([]string{`{"event":"ticket.created"}`, `{"event":"ticket.commented"}`}, rcv.accepted()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// A receiver that is gone: given up after MaxAttempts, logged.
	gone := httptest.NewServer(http.NotFoundHandler())
	url := gone.URL
	gone.Close()
	g, err := d.Create(wire.WebhookCreate{URL: url, Events: []string{wire.EventTicketUpdated}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Enqueue(wire.EventTicketUpdated, 1); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the delivery to a gone receiver given up", func() bool {
		log, _ := d.Deliveries(g.ID)
		if len(log) > 0 && log[0].Outcome == "gave-up" {
			return true
		}
		clock.Advance(10 * time.Second)
		return false
	})
	if log, _ := d.Deliveries(g.ID); len(log) != 2 || log[1].Outcome != "retry" || log[0].Error == "" {
		t.Errorf("log %+v", log)
	}
}

// TestBounds: the queue, the URL, the events and the secret are bounded.
func TestBounds(t *testing.T) {
	leak.Check(t)
	db, err := store.OpenInMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // after Run has stopped: cleanups run last first
	d, err := New(Config{DB: db, MaxQueue: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []wire.WebhookCreate{
		{URL: "ftp://psa.example/x", Events: wire.WebhookEvents},
		{URL: "https://user:pw@psa.example/x", Events: wire.WebhookEvents},
		{URL: "https://psa.example/" + strings.Repeat("x", wire.MaxWebhookURL), Events: wire.WebhookEvents},
		{URL: "https://psa.example/x"},
		{URL: "https://psa.example/x", Events: []string{"ticket.deleted"}},
		{URL: "https://psa.example/x", Events: wire.WebhookEvents, Secret: "short"},
	} {
		if _, err := d.Create(c); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", c, err)
		}
	}
	if _, err := d.Create(wire.WebhookCreate{URL: "https://psa.example/x", Events: wire.WebhookEvents}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := d.Enqueue(wire.EventTicketCreated, 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Enqueue(wire.EventTicketCreated, 1); !errors.Is(err, ErrQueueFull) {
		t.Errorf("a fourth delivery: %v, want ErrQueueFull", err)
	}
}

// TestVerify: a changed body, timestamp or secret fails the check, and so
// does a delivery replayed later than the skew.
func TestVerify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"event":"ticket.created"}`)
	h := http.Header{}
	h.Set(wire.HeaderWebhookTimestamp, "1796634000")
	h.Set(wire.HeaderWebhookSignature, Sign("s3cret-s3cret-s3cret", "1796634000", body))
	now := time.Unix(1796634000, 0)
	if err := Verify("s3cret-s3cret-s3cret", h, body, now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if Verify("s3cret-s3cret-s3creT", h, body, now, time.Minute) == nil ||
		Verify("s3cret-s3cret-s3cret", h, []byte(`{"event":"ticket.deleted"}`), now, time.Minute) == nil ||
		Verify("s3cret-s3cret-s3cret", h, body, now.Add(2*time.Minute), time.Minute) == nil {
		t.Error("a forged or replayed delivery verified")
	}
}

// TestRunStopsWithDeliveriesDue: Run returns when its context ends in the
// middle of an attempt, though the delivery it was making is still due
// (the coordinator shutting down while a receiver is slow).
func TestRunStopsWithDeliveriesDue(t *testing.T) {
	leak.Check(t)
	db, err := store.OpenInMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reached := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) //nolint:errcheck // read so that the server sees the client go
		select {
		case reached <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}))
	t.Cleanup(slow.Close)
	d, err := New(Config{DB: db, Clock: tstest.NewClock(tstest.ClockOpts{Start: t0})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Create(wire.WebhookCreate{URL: slow.URL, Events: wire.WebhookEvents}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Enqueue(wire.EventTicketCreated, 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	<-reached
	cancel()
	wait.For(t, "Run to return", func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	})
	if d.Queued() != 1 {
		t.Errorf("%d queued after the shutdown, want the delivery kept", d.Queued())
	}
}
