package outbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"tailscale.com/tstest"

	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
)

// childEnv names the mode of a crash test's child process (crash_test.go).
const childEnv = "PEERDESK_OUTBOX_CHILD"

// childMain runs a child process's mode; set where the crash tests build.
var childMain func(mode string) int

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" && childMain != nil {
		os.Exit(childMain(mode))
	}
	os.Exit(leak.Main(m))
}

// recorder is a send func that records what it was given.
type recorder struct {
	mu   sync.Mutex
	got  []Item
	fail func(Item) error // nil: every send succeeds
	sent chan Item
}

func newRecorder() *recorder { return &recorder{sent: make(chan Item, 10000)} }

func (r *recorder) send(_ context.Context, it Item) error {
	r.mu.Lock()
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		if err := fail(it); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.got = append(r.got, it)
	r.mu.Unlock()
	r.sent <- it
	return nil
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, it := range r.got {
		ids = append(ids, it.ID)
	}
	return ids
}

// drain runs o.Drain until the test ends.
func drain(t *testing.T, o *Outbox, send func(context.Context, Item) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Drain(ctx, send) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Drain returned %v, want context.Canceled", err)
		}
	})
}

func mustOpen(t *testing.T, dir string, opt Options) *Outbox {
	t.Helper()
	o, err := Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func TestOrderDedupeAndRemoval(t *testing.T) {
	leak.Check(t)
	dir := t.TempDir()
	o := mustOpen(t, dir, Options{})
	for i, id := range []string{"a", "b", "a", "c", "b"} {
		if err := o.Put("ticket", id, []byte(fmt.Sprintf("payload %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := o.Len(); n != 3 {
		t.Fatalf("Len = %d after putting a, b, a, c, b; want 3 (a second Put of an id is a no-op)", n)
	}
	r := newRecorder()
	drain(t, o, r.send)
	for range 3 {
		wait.Recv(t, "a sent item", r.sent)
	}
	wait.For(t, "the queue to empty", func() bool { n, _ := o.Len(); return n == 0 })
	if diff := cmp.Diff([]string{"a", "b", "c"}, r.ids()); diff != "" {
		t.Errorf("sent (-want +got):\n%s", diff)
	}
	if got := string(r.got[0].Payload); got != "payload 0" {
		t.Errorf("a's payload = %q, want the first Put's", got)
	}
	if files := itemFiles(t, dir); len(files) != 0 {
		t.Errorf("files left after every item was sent: %v", files)
	}
	// Sent and removed: the same id queues again (the coordinator
	// dedupes what was filed).
	if err := o.Put("ticket", "a", nil); err != nil {
		t.Fatal(err)
	}
	if got := wait.Recv(t, "a again", r.sent); got.ID != "a" {
		t.Errorf("sent %q, want a", got.ID)
	}
}

func itemFiles(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		if !de.IsDir() {
			names = append(names, de.Name())
		}
	}
	return names
}

func TestReopenKeepsOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := mustOpen(t, dir, Options{})
	for i := range 5 {
		if err := o.Put("msg", fmt.Sprintf("m%d", i), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	o.Close()
	if err := o.Put("msg", "late", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close = %v, want ErrClosed", err)
	}
	o2 := mustOpen(t, dir, Options{})
	if err := o2.Put("msg", "m2", nil); err != nil { // queued before the restart: a no-op
		t.Fatal(err)
	}
	if err := o2.Put("msg", "m5", []byte{5}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	var seqs []uint64
	for _, e := range o2.queue {
		ids = append(ids, e.id)
		seqs = append(seqs, e.seq)
	}
	if diff := cmp.Diff([]string{"m0", "m1", "m2", "m3", "m4", "m5"}, ids); diff != "" {
		t.Errorf("queue after reopening (-want +got):\n%s", diff)
	}
	if !slices.IsSorted(seqs) || len(slices.Compact(slices.Clone(seqs))) != len(seqs) {
		t.Errorf("sequence numbers %v are not increasing", seqs)
	}
}

func TestBounds(t *testing.T) {
	t.Parallel()
	o := mustOpen(t, t.TempDir(), Options{MaxItems: 2, MaxBytes: 1 << 20})
	for _, id := range []string{"a", "b"} {
		if err := o.Put("k", id, nil); err != nil {
			t.Fatal(err)
		}
	}
	err := o.Put("k", "c", nil)
	if !errors.Is(err, ErrFull) {
		t.Fatalf("third Put into a queue of 2 = %v, want ErrFull", err)
	}
	t.Logf("the error says: %v", err)
	if err := o.Put("k", "a", nil); err != nil {
		t.Errorf("a queued id into a full queue = %v, want nil (a no-op)", err)
	}

	ob := mustOpen(t, t.TempDir(), Options{MaxBytes: 1000})
	if err := ob.Put("k", "big", make([]byte, 900)); err != nil {
		t.Fatal(err)
	}
	if err := ob.Put("k", "more", make([]byte, 100)); !errors.Is(err, ErrFull) {
		t.Errorf("Put past MaxBytes = %v, want ErrFull", err)
	}
	if n, b := ob.Len(); n != 1 || b > 1000 {
		t.Errorf("Len = %d items, %d bytes; want 1 item within 1000 bytes", n, b)
	}
}

func TestInvalidNames(t *testing.T) {
	t.Parallel()
	o := mustOpen(t, t.TempDir(), Options{})
	long := string(make([]byte, MaxIDLen+1))
	for _, c := range []struct{ kind, id string }{
		{"", "a"}, {"k", ""}, {"k", "../x"}, {"k", "a b"}, {"k/x", "a"}, {"k", long},
	} {
		if err := o.Put(c.kind, c.id, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("Put(%q, %q) = %v, want ErrInvalid", c.kind, c.id, err)
		}
	}
}

func TestWakesOnPut(t *testing.T) {
	leak.Check(t)
	o := mustOpen(t, t.TempDir(), Options{})
	r := newRecorder()
	drain(t, o, r.send)
	for i := range 3 {
		id := fmt.Sprintf("x%d", i)
		if err := o.Put("k", id, nil); err != nil {
			t.Fatal(err)
		}
		if got := wait.Recv(t, "the item just put", r.sent); got.ID != id {
			t.Fatalf("sent %q, want %q", got.ID, id)
		}
	}
	if err := o.Drain(context.Background(), r.send); !errors.Is(err, ErrDraining) {
		t.Errorf("a second Drain = %v, want ErrDraining", err)
	}
}

// TestBackoff: while send fails the head item is retried, after pauses
// that double on the injected clock up to MaxBackoff; nothing behind it
// is sent meanwhile; Kick retries at once and starts the pauses over.
func TestBackoff(t *testing.T) {
	leak.Check(t)
	clock := tstest.NewClock(tstest.ClockOpts{Start: time.Unix(1e9, 0)})
	o := mustOpen(t, t.TempDir(), Options{Clock: clock})
	pauses := make(chan time.Duration, 100)
	o.hook = func(step string, _ uint64) {
		if d, ok := cutPrefix(step, "drain:backoff:"); ok {
			pd, err := time.ParseDuration(d)
			if err != nil {
				panic(err)
			}
			pauses <- pd
		}
	}
	for _, id := range []string{"first", "second"} {
		if err := o.Put("k", id, nil); err != nil {
			t.Fatal(err)
		}
	}
	r := newRecorder()
	var mu sync.Mutex
	var tries []time.Time
	down := true
	r.fail = func(it Item) error {
		mu.Lock()
		defer mu.Unlock()
		if it.ID != "first" {
			if down {
				t.Errorf("sent %q while the head item was failing", it.ID)
			}
			return nil
		}
		tries = append(tries, clock.Now())
		if down {
			return errors.New("connection refused")
		}
		return nil
	}
	drain(t, o, r.send)
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		got := wait.Recv(t, "a backoff", pauses)
		if got != w {
			t.Fatalf("pause %d = %v, want %v", i, got, w)
		}
		if i < len(want)-1 {
			clock.Advance(got)
		}
	}
	mu.Lock()
	for i := 1; i < len(tries); i++ {
		if d := tries[i].Sub(tries[i-1]); d != want[i-1] {
			t.Errorf("retry %d came %v after the one before, want %v", i, d, want[i-1])
		}
	}
	down = false
	mu.Unlock()
	o.Kick() // the link is back: now, not in a minute
	for _, id := range []string{"first", "second"} {
		if got := wait.Recv(t, "a sent item", r.sent); got.ID != id {
			t.Fatalf("sent %q, want %q", got.ID, id)
		}
	}
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}

func TestPermanentSetAside(t *testing.T) {
	leak.Check(t)
	dir := t.TempDir()
	o := mustOpen(t, dir, Options{})
	for _, id := range []string{"bad", "good"} {
		if err := o.Put("k", id, nil); err != nil {
			t.Fatal(err)
		}
	}
	r := newRecorder()
	r.fail = func(it Item) error {
		if it.ID == "bad" {
			return Permanent(errors.New("400 bad request"))
		}
		return nil
	}
	drain(t, o, r.send)
	if got := wait.Recv(t, "the good item", r.sent); got.ID != "good" {
		t.Fatalf("sent %q, want good", got.ID)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "rejected", "*.item")); len(files) != 1 {
		t.Errorf("rejected/ holds %v, want the refused item", files)
	}
}

// TestDamagedFilesSkipped: a torn, a truncated and an altered file are set
// aside at Open and reported; the intact items around them are sent.
func TestDamagedFilesSkipped(t *testing.T) {
	leak.Check(t)
	dir := t.TempDir()
	o := mustOpen(t, dir, Options{})
	for i := range 5 {
		if err := o.Put("k", fmt.Sprintf("i%d", i), []byte("some payload")); err != nil {
			t.Fatal(err)
		}
	}
	o.Close()
	damage := map[uint64]func([]byte) []byte{
		1: func(b []byte) []byte { return b[:len(b)/2] },             // torn
		2: func(b []byte) []byte { b[len(b)-6] ^= 0x40; return b },   // a bit flipped
		4: func(b []byte) []byte { return append(b, "trailing"...) }, // too long
	}
	for seq, f := range damage {
		p := o.path(seq + 1)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A temporary file of a Put that never returned.
	if err := os.WriteFile(filepath.Join(dir, "tmp-123"), []byte("PDQ1"), 0o600); err != nil {
		t.Fatal(err)
	}
	o2 := mustOpen(t, dir, Options{})
	if got := o2.Corrupt(); len(got) != 3 {
		t.Errorf("Corrupt() = %v, want the 3 damaged files", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "tmp-123")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary file is still there after Open: %v", err)
	}
	r := newRecorder()
	drain(t, o2, r.send)
	for range 2 {
		wait.Recv(t, "an intact item", r.sent)
	}
	wait.For(t, "the queue to empty", func() bool { n, _ := o2.Len(); return n == 0 })
	if diff := cmp.Diff([]string{"i0", "i3"}, r.ids()); diff != "" {
		t.Errorf("sent (-want +got):\n%s", diff)
	}
}

func TestEncodeDecode(t *testing.T) {
	t.Parallel()
	it := Item{Seq: 7, Kind: "ticket", ID: "0123abcd", Payload: []byte(`{"x":1}`)}
	got, err := Decode(Encode(it))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(it, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	b := Encode(it)
	for i := range b {
		c := slices.Clone(b)
		c[i] ^= 1
		if _, err := Decode(c); !errors.Is(err, ErrCorrupt) {
			t.Errorf("a bit flipped at byte %d decoded: %v", i, err)
		}
	}
	for n := range len(b) {
		if _, err := Decode(b[:n]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%d of %d bytes decoded: %v", n, len(b), err)
		}
	}
}

// FuzzDecode: any bytes decode to an intact item or ErrCorrupt, never a
// panic; what decodes encodes back to the same bytes.
func FuzzDecode(f *testing.F) {
	f.Add(Encode(Item{Seq: 1, Kind: "ticket", ID: "abc", Payload: []byte("{}")}))
	f.Add(Encode(Item{Seq: 1<<64 - 1, Kind: "m", ID: "x"}))
	f.Add([]byte("PDQ1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		it, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Decode error %v is not ErrCorrupt", err)
			}
			return
		}
		if got := Encode(it); string(got) != string(b) {
			t.Fatalf("Encode(Decode(b)) differs from b")
		}
	})
}
