// Package webhooks delivers the help desk's ticket events to a PSA:
// outgoing webhooks an admin configures (URL, secret, events), each
// delivery signed, retried with exponential backoff, logged, and kept in
// a bounded queue that survives a restart.
//
// # Deliveries
//
// Enqueue stores one delivery per webhook subscribed to the event, in the
// coordinator's store (synchronous writes): a queued delivery is sent
// after a crash too. Run sends them, oldest first, as a POST of the JSON
// body with the headers wire.HeaderWebhookEvent, HeaderWebhookDelivery
// (the delivery's id, the same for every attempt, so a receiver can drop
// repeats), HeaderWebhookTimestamp (unix seconds) and
// HeaderWebhookSignature: "sha256=" and the hex HMAC-SHA256, under the
// webhook's secret, of the timestamp, '.', and the body (Sign; Verify is
// the receiver's check). A 2xx answer delivers; anything else, or no
// answer within Config.Timeout, is retried after Backoff, 2×Backoff, …
// up to MaxBackoff, and given up after MaxAttempts. Redirects are not
// followed. Each attempt is written to the webhook's delivery log (the
// last LogSize attempts are kept).
//
// The queue holds at most MaxQueue deliveries: Enqueue refuses more with
// ErrQueueFull rather than grow without bound while a receiver is down.
// Time is the injected Clock's, so tests drive the retries.
package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"tailscale.com/tstime"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/wire"
)

const (
	nsHook  = "webhook"    // id → hook
	nsQueue = "whqueue"    // %020d seq → job
	nsSeq   = "whseq"      // "n" → the last seq
	nsLog   = "whlog"      // hook/%020d-%02d (seq, attempt) → wire.WebhookDelivery
	maxBody = 512 << 10    // bytes of one delivery's body
	minSec  = 16           // bytes of a secret, at least
	maxSec  = 256          // and at most
	maxRead = 4 << 10      // bytes of a receiver's answer read (and dropped)
	seqFmt  = "%020d"      // queue keys sort as numbers
	logFmt  = "%020d-%02d" // log keys
)

// Errors; test with errors.Is.
var (
	ErrInvalid   = errors.New("webhooks: invalid")
	ErrNotFound  = errors.New("webhooks: no such webhook")
	ErrQueueFull = errors.New("webhooks: the delivery queue is full")
	ErrTooMany   = errors.New("webhooks: too many webhooks")
)

// Config configures a Dispatcher. Zero values take the defaults named.
type Config struct {
	DB          store.DB
	Client      *http.Client  // nil: a client of its own (its Timeout is not used; Timeout is)
	Timeout     time.Duration // one attempt, 10 s
	Backoff     time.Duration // the first retry's wait, 10 s
	MaxBackoff  time.Duration // 1 h
	MaxAttempts int           // 12
	MaxQueue    int           // 10,000 deliveries
	LogSize     int           // attempts kept per webhook, 200
	Clock       tstime.Clock  // nil: the real clock
	Logger      *slog.Logger  // nil discards logs
}

type hook struct {
	wire.Webhook
	Secret string `json:"secret"`
}

type job struct {
	Seq      uint64    `json:"seq"`
	ID       string    `json:"id"`
	Hook     string    `json:"hook"`
	Event    string    `json:"event"`
	Body     []byte    `json:"body"`
	Attempts int       `json:"attempts"`
	Next     time.Time `json:"next"`
}

// Dispatcher keeps the webhooks and delivers their events. Its methods
// are safe for concurrent use.
type Dispatcher struct {
	cfg   Config
	clock tstime.Clock
	log   *slog.Logger
	hc    *http.Client
	kick  chan struct{}

	mu    sync.Mutex
	hooks map[string]hook
	queue []job // by seq
	seq   uint64
}

// New loads the webhooks and the queue from cfg.DB.
func New(cfg Config) (*Dispatcher, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, 10*time.Second)
	def(&cfg.Backoff, 10*time.Second)
	def(&cfg.MaxBackoff, time.Hour)
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 12
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 10_000
	}
	if cfg.LogSize <= 0 {
		cfg.LogSize = 200
	}
	d := &Dispatcher{cfg: cfg, clock: cfg.Clock, log: cfg.Logger, hc: cfg.Client, kick: make(chan struct{}, 1), hooks: map[string]hook{}}
	if d.clock == nil {
		d.clock = tstime.StdClock{}
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.hc == nil {
		d.hc = &http.Client{}
	}
	hc := *d.hc
	hc.Timeout = 0
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	d.hc = &hc
	err := cfg.DB.View(func(tx store.Tx) error {
		if err := tx.Scan(nsHook, "", func(_ string, v []byte) error {
			var h hook
			if err := store.Decode(v, &h); err != nil {
				return err
			}
			d.hooks[h.ID] = h
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Get(nsSeq, "n", &d.seq); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.Scan(nsQueue, "", func(_ string, v []byte) error {
			var j job
			if err := store.Decode(v, &j); err != nil {
				return err
			}
			d.queue = append(d.queue, j)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("webhooks.New: %w", err)
	}
	return d, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// CheckURL accepts an http(s) URL with a host, no credentials and no
// fragment, of at most wire.MaxWebhookURL bytes.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || len(s) > wire.MaxWebhookURL || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%w: the URL must be an http(s) URL without credentials", ErrInvalid)
	}
	return nil
}

// Create adds a webhook; its secret (random if c.Secret is empty) is in
// the answer, and never again.
func (d *Dispatcher) Create(c wire.WebhookCreate) (wire.Webhook, error) {
	if err := CheckURL(c.URL); err != nil {
		return wire.Webhook{}, err
	}
	if len(c.Events) == 0 || len(c.Events) > len(wire.WebhookEvents) {
		return wire.Webhook{}, fmt.Errorf("%w: name 1..%d events", ErrInvalid, len(wire.WebhookEvents))
	}
	for _, e := range c.Events {
		if !slices.Contains(wire.WebhookEvents, e) {
			return wire.Webhook{}, fmt.Errorf("%w: unknown event %.40q", ErrInvalid, e)
		}
	}
	if c.Secret == "" {
		c.Secret = randomHex(32)
	}
	if len(c.Secret) < minSec || len(c.Secret) > maxSec {
		return wire.Webhook{}, fmt.Errorf("%w: a secret is %d..%d bytes", ErrInvalid, minSec, maxSec)
	}
	h := hook{Webhook: wire.Webhook{ID: "wh-" + randomHex(8), URL: c.URL, Events: slices.Compact(slices.Sorted(slices.Values(c.Events))), Created: d.clock.Now().UTC()}, Secret: c.Secret}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.hooks) >= wire.MaxWebhooks {
		return wire.Webhook{}, fmt.Errorf("%w: %d", ErrTooMany, wire.MaxWebhooks)
	}
	if err := d.cfg.DB.Update(func(tx store.Tx) error { return tx.Insert(nsHook, h.ID, h) }); err != nil {
		return wire.Webhook{}, fmt.Errorf("webhooks.Create: %w", err)
	}
	d.hooks[h.ID] = h
	out := h.Webhook
	out.Secret = h.Secret
	return out, nil
}

// List returns the webhooks, without their secrets.
func (d *Dispatcher) List() []wire.Webhook {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]wire.Webhook, 0, len(d.hooks))
	for _, h := range d.hooks {
		out = append(out, h.Webhook)
	}
	slices.SortFunc(out, func(a, b wire.Webhook) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Delete removes a webhook, its queued deliveries and its log.
func (d *Dispatcher) Delete(id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.hooks[id]; !ok {
		return ErrNotFound
	}
	var gone []job
	kept := d.queue[:0:0]
	for _, j := range d.queue {
		if j.Hook == id {
			gone = append(gone, j)
		} else {
			kept = append(kept, j)
		}
	}
	err := d.cfg.DB.Update(func(tx store.Tx) error {
		for _, j := range gone {
			if err := tx.Delete(nsQueue, fmt.Sprintf(seqFmt, j.Seq)); err != nil {
				return err
			}
		}
		var logs []string
		if err := tx.Scan(nsLog, id+"/", func(k string, _ []byte) error { logs = append(logs, k); return nil }); err != nil {
			return err
		}
		for _, k := range logs {
			if err := tx.Delete(nsLog, k); err != nil {
				return err
			}
		}
		return tx.Delete(nsHook, id)
	})
	if err != nil {
		return fmt.Errorf("webhooks.Delete: %w", err)
	}
	delete(d.hooks, id)
	d.queue = kept
	return nil
}

// Deliveries returns a webhook's delivery log, newest first.
func (d *Dispatcher) Deliveries(id string) ([]wire.WebhookDelivery, error) {
	d.mu.Lock()
	_, ok := d.hooks[id]
	d.mu.Unlock()
	if !ok {
		return nil, ErrNotFound
	}
	var out []wire.WebhookDelivery
	err := d.cfg.DB.View(func(tx store.Tx) error {
		return tx.Scan(nsLog, id+"/", func(_ string, v []byte) error {
			var l wire.WebhookDelivery
			if err := store.Decode(v, &l); err != nil {
				return err
			}
			out = append(out, l)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("webhooks.Deliveries: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// Queued is how many deliveries wait.
func (d *Dispatcher) Queued() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue)
}

// Enqueue queues a delivery of payload (JSON-encoded) to every webhook
// subscribed to event, durably; it returns how many were queued.
func (d *Dispatcher) Enqueue(event string, payload any) (int, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("webhooks.Enqueue: %w", err)
	}
	if len(body) > maxBody {
		return 0, fmt.Errorf("%w: a body of %d bytes", ErrInvalid, len(body))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var jobs []job
	for _, h := range d.hooks {
		if slices.Contains(h.Events, event) {
			jobs = append(jobs, job{Hook: h.ID, Event: event, Body: body, ID: "dl-" + randomHex(8), Next: d.clock.Now().UTC()})
		}
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	if len(d.queue)+len(jobs) > d.cfg.MaxQueue {
		return 0, fmt.Errorf("%w: %d deliveries wait", ErrQueueFull, len(d.queue))
	}
	slices.SortFunc(jobs, func(a, b job) int { return strings.Compare(a.Hook, b.Hook) })
	seq := d.seq
	for i := range jobs {
		seq++
		jobs[i].Seq = seq
	}
	err = d.cfg.DB.Update(func(tx store.Tx) error {
		for _, j := range jobs {
			if err := tx.Put(nsQueue, fmt.Sprintf(seqFmt, j.Seq), j); err != nil {
				return err
			}
		}
		return tx.Put(nsSeq, "n", seq)
	})
	if err != nil {
		return 0, fmt.Errorf("webhooks.Enqueue: %w", err)
	}
	d.seq = seq
	d.queue = append(d.queue, jobs...)
	select {
	case d.kick <- struct{}{}:
	default:
	}
	return len(jobs), nil
}

// Sign is the signature header's value of body sent at ts under secret.
func Sign(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify is a receiver's check of a delivery: the signature matches the
// timestamp and body under secret, and the timestamp is within skew of
// now (so a captured delivery cannot be replayed later).
func Verify(secret string, h http.Header, body []byte, now time.Time, skew time.Duration) error {
	ts := h.Get(wire.HeaderWebhookTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("webhooks.Verify: no timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > skew || d < -skew {
		return fmt.Errorf("webhooks.Verify: the timestamp is %s off", d)
	}
	if !hmac.Equal([]byte(h.Get(wire.HeaderWebhookSignature)), []byte(Sign(secret, ts, body))) {
		return errors.New("webhooks.Verify: bad signature")
	}
	return nil
}

// Run sends the queued deliveries as they fall due, until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	for ctx.Err() == nil {
		j, wait, ok := d.due()
		if ok {
			d.attempt(ctx, j)
			continue
		}
		var timer <-chan time.Time
		stop := func() bool { return false }
		if wait > 0 {
			tc, ch := d.clock.NewTimer(wait)
			timer, stop = ch, tc.Stop
		}
		select {
		case <-ctx.Done():
			stop()
			return
		case <-d.kick:
		case <-timer:
		}
		stop()
	}
}

// due returns the oldest delivery that is due, or how long until the
// next one is (0: none waits).
func (d *Dispatcher) due() (job, time.Duration, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock.Now()
	var next time.Time
	for _, j := range d.queue {
		if !j.Next.After(now) {
			return j, 0, true
		}
		if next.IsZero() || j.Next.Before(next) {
			next = j.Next
		}
	}
	if next.IsZero() {
		return job{}, 0, false
	}
	return job{}, next.Sub(now), false
}

// attempt sends j once and records the outcome.
func (d *Dispatcher) attempt(ctx context.Context, j job) {
	d.mu.Lock()
	h, ok := d.hooks[j.Hook]
	d.mu.Unlock()
	if !ok {
		return // deleted meanwhile; Delete removed the job
	}
	now := d.clock.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	status, err := d.send(ctx, h, j, ts)
	if ctx.Err() != nil {
		return // shutting down: the job stays queued as it was
	}
	j.Attempts++
	l := wire.WebhookDelivery{Delivery: j.ID, Event: j.Event, Attempt: j.Attempts, Time: now.UTC(), Status: status}
	switch {
	case err == nil:
		l.Outcome = "delivered"
	case j.Attempts >= d.cfg.MaxAttempts:
		l.Outcome, l.Error = "gave-up", err.Error()
	default:
		l.Outcome, l.Error = "retry", err.Error()
		wait := d.cfg.Backoff << min(j.Attempts-1, 30)
		if wait > d.cfg.MaxBackoff || wait <= 0 {
			wait = d.cfg.MaxBackoff
		}
		j.Next = now.Add(wait).UTC()
	}
	if len(l.Error) > 256 {
		l.Error = strings.ToValidUTF8(l.Error[:256], "")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	i := slices.IndexFunc(d.queue, func(q job) bool { return q.Seq == j.Seq })
	if i < 0 {
		return // deleted meanwhile
	}
	werr := d.cfg.DB.Update(func(tx store.Tx) error {
		key := fmt.Sprintf(seqFmt, j.Seq)
		if l.Outcome == "retry" {
			if err := tx.Put(nsQueue, key, j); err != nil {
				return err
			}
		} else if err := tx.Delete(nsQueue, key); err != nil {
			return err
		}
		if err := tx.Put(nsLog, fmt.Sprintf("%s/"+logFmt, j.Hook, j.Seq, j.Attempts), l); err != nil {
			return err
		}
		return d.trimLog(tx, j.Hook)
	})
	if werr != nil {
		// The attempt is not recorded: it is made again, which a
		// receiver sees as a repeat of the same delivery id.
		d.log.Error("webhooks: recording an attempt", "hook", j.Hook, "delivery", j.ID, "err", werr)
		return
	}
	if l.Outcome == "retry" {
		d.queue[i] = j
	} else {
		d.queue = slices.Delete(d.queue, i, i+1)
	}
	if l.Outcome != "delivered" {
		d.log.Warn("webhooks: delivery failed", "hook", j.Hook, "delivery", j.ID, "attempt", j.Attempts, "outcome", l.Outcome, "err", err)
	}
}

// trimLog keeps a webhook's last LogSize attempts.
func (d *Dispatcher) trimLog(tx store.Tx, id string) error {
	var keys []string
	if err := tx.Scan(nsLog, id+"/", func(k string, _ []byte) error { keys = append(keys, k); return nil }); err != nil {
		return err
	}
	for _, k := range keys[:max(0, len(keys)-d.cfg.LogSize)] {
		if err := tx.Delete(nsLog, k); err != nil {
			return err
		}
	}
	return nil
}

// send POSTs j to h; a non-2xx status is an error.
func (d *Dispatcher) send(ctx context.Context, h hook, j job, ts string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, strings.NewReader(string(j.Body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "peerdesk-webhooks")
	req.Header.Set(wire.HeaderWebhookEvent, j.Event)
	req.Header.Set(wire.HeaderWebhookDelivery, j.ID)
	req.Header.Set(wire.HeaderWebhookTimestamp, ts)
	req.Header.Set(wire.HeaderWebhookSignature, Sign(h.Secret, ts, j.Body))
	resp, err := d.hc.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxRead)) //nolint:errcheck // the answer's body is not used
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("the receiver answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}
