package auditlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/wire"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func open(t testing.TB, dir string) *Log {
	t.Helper()
	l, err := Open(dir, func() time.Time { return t0 }, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// event i is a distinct record; its "n" field names it.
func event(i int) wire.AuditEvent {
	return wire.AuditEvent{
		Time: t0.Add(time.Duration(i) * time.Second), Actor: "tech-1", Action: "peer.sysinfo",
		Target: "dev-1", Outcome: "ok", Fields: map[string]string{"n": strconv.Itoa(i)},
	}
}

func record(t *testing.T, l *Log, from, to int) []wire.AuditEvent {
	t.Helper()
	var out []wire.AuditEvent
	for i := from; i < to; i++ {
		if err := l.Record(event(i)); err != nil {
			t.Fatal(err)
		}
		out = append(out, event(i))
	}
	return out
}

// appendRaw writes b to the log file behind the Log's back, as a crash or
// another writer would.
func appendRaw(t testing.TB, dir, b string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, logName), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(b); err != nil {
		t.Fatal(err)
	}
}

// collector is a Sender that keeps every batch it accepted; while fail is
// set it refuses.
type collector struct {
	mu      sync.Mutex
	batches [][]wire.AuditEvent
	calls   int
	fail    func(call int) error
}

func (c *collector) send(_ context.Context, evs []wire.AuditEvent) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.fail != nil {
		if err := c.fail(c.calls); err != nil {
			return err
		}
	}
	c.batches = append(c.batches, append([]wire.AuditEvent(nil), evs...))
	return nil
}

func (c *collector) delivered() []wire.AuditEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []wire.AuditEvent
	for _, b := range c.batches {
		out = append(out, b...)
	}
	return out
}

func (c *collector) sizes() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for _, b := range c.batches {
		out = append(out, len(b))
	}
	return out
}

func pending(t *testing.T, l *Log) int {
	t.Helper()
	n, err := l.Pending()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRecordAllRoundTrip(t *testing.T) {
	l := open(t, t.TempDir())
	paris := time.FixedZone("CET", 3600)
	in := []wire.AuditEvent{
		{Actor: "node:tech-1", Action: "peer.sysinfo", Target: "dev-1", Outcome: "denied", Reason: "no grant",
			Fields: map[string]string{"remote": "100.64.0.2:40000"}},
		{Time: time.Date(2026, 11, 21, 14, 30, 0, 0, paris), Actor: "alice", Action: "peer.sysinfo", Outcome: "ok"},
	}
	for _, ev := range in {
		if err := l.Record(ev); err != nil {
			t.Fatal(err)
		}
	}
	want := []wire.AuditEvent{in[0], in[1]}
	want[0].Time = t0 // a zero time is stamped with the clock
	got, err := l.All()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("All() mismatch (-want +got):\n%s", diff)
	}
	for i, ev := range got {
		if ev.Time.Location() != time.UTC {
			t.Errorf("record %d stored in %v, want UTC", i, ev.Time.Location())
		}
	}
	if n := pending(t, l); n != 2 {
		t.Fatalf("Pending = %d, want 2", n)
	}

	// A second Log over the same directory sees the same trail.
	again := open(t, l.dir)
	got2, err := again.All()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got2); diff != "" {
		t.Fatalf("reopened All() mismatch (-want +got):\n%s", diff)
	}
}

func TestRecordRefusals(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	if err := l.Record(wire.AuditEvent{Action: "big", Reason: strings.Repeat("x", lineMax)}); err == nil {
		t.Error("Record accepted a record longer than a line may be")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(event(1)); err == nil {
		t.Error("Record on a closed log succeeded")
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 0 {
		t.Fatalf("refused records reached the file: %q", b)
	}
}

func TestForwardOnceBatchesInOrder(t *testing.T) {
	l := open(t, t.TempDir())
	want := record(t, l, 0, 250)
	var c collector
	if err := l.ForwardOnce(context.Background(), c.send); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{100, 100, 50}, c.sizes()); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, c.delivered()); diff != "" {
		t.Fatalf("delivered (-want +got):\n%s", diff)
	}
	if n := pending(t, l); n != 0 {
		t.Fatalf("Pending after forwarding = %d", n)
	}
	// Nothing new: nothing sent, not even an empty batch.
	if err := l.ForwardOnce(context.Background(), c.send); err != nil {
		t.Fatal(err)
	}
	if c.calls != 3 {
		t.Fatalf("sender called %d times, want 3", c.calls)
	}
	// New records are sent alone, and the cursor survives a restart.
	more := record(t, l, 250, 253)
	l2 := open(t, l.dir)
	if n := pending(t, l2); n != 3 {
		t.Fatalf("Pending after reopening = %d, want 3", n)
	}
	if err := l2.ForwardOnce(context.Background(), c.send); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append(want, more...), c.delivered()); diff != "" {
		t.Fatalf("delivered (-want +got):\n%s", diff)
	}
}

func TestForwardOnceFailureKeepsRecords(t *testing.T) {
	l := open(t, t.TempDir())
	want := record(t, l, 0, 150)
	down := errors.New("coordinator unreachable")

	c := collector{fail: func(int) error { return down }}
	if err := l.ForwardOnce(context.Background(), c.send); !errors.Is(err, down) {
		t.Fatalf("ForwardOnce = %v, want the sender's error", err)
	}
	if n := pending(t, l); n != 150 {
		t.Fatalf("Pending after a failed send = %d, want 150", n)
	}

	// The coordinator takes one batch, then goes down again: only the
	// accepted batch counts as forwarded.
	c.fail = func(call int) error {
		if call == 3 {
			return down
		}
		return nil
	}
	if err := l.ForwardOnce(context.Background(), c.send); !errors.Is(err, down) {
		t.Fatalf("ForwardOnce = %v, want the sender's error", err)
	}
	if n := pending(t, l); n != 50 {
		t.Fatalf("Pending after one accepted batch = %d, want 50", n)
	}

	c.fail = nil
	if err := l.ForwardOnce(context.Background(), c.send); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, c.delivered()); diff != "" {
		t.Fatalf("every record exactly once, in order (-want +got):\n%s", diff)
	}
	if n := pending(t, l); n != 0 {
		t.Fatalf("Pending = %d, want 0", n)
	}
}

func TestTornLineWaitsForCompletion(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	want := record(t, l, 0, 2)
	torn := event(2)
	line, err := json.Marshal(torn)
	if err != nil {
		t.Fatal(err)
	}
	cut := len(line) / 2
	appendRaw(t, dir, string(line[:cut]))

	if n := pending(t, l); n != 2 {
		t.Fatalf("Pending with a torn last line = %d, want 2", n)
	}
	var c collector
	if err := l.ForwardOnce(context.Background(), c.send); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, c.delivered()); diff != "" {
		t.Fatalf("torn line must not be sent (-want +got):\n%s", diff)
	}

	appendRaw(t, dir, string(line[cut:])+"\n")
	if n := pending(t, l); n != 1 {
		t.Fatalf("Pending after completing the line = %d, want 1", n)
	}
	if err := l.ForwardOnce(context.Background(), c.send); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append(want, torn), c.delivered()); diff != "" {
		t.Fatalf("completed line sent once (-want +got):\n%s", diff)
	}
}

// A crash mid-write leaves a torn last line; records written after the
// restart must not be glued to it and lost.
func TestRecordAfterCrashMidWrite(t *testing.T) {
	dir := t.TempDir()
	appendRaw(t, dir, `{"time":"2026-11-21T12:00:00Z","actor":"tech-1","act`)
	l := open(t, dir)
	want := record(t, l, 0, 2)
	var c collector
	if err := l.ForwardOnce(context.Background(), c.send); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, c.delivered()); diff != "" {
		t.Fatalf("records after the crash (-want +got):\n%s", diff)
	}
}

func TestDamagedLineSkipped(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	l, err := Open(dir, func() time.Time { return t0 }, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := record(t, l, 0, 1)
	appendRaw(t, dir, "this is not json\n")
	appendRaw(t, dir, "[1,2,3]\n")
	want = append(want, record(t, l, 1, 2)...)

	if n := pending(t, l); n != 2 {
		t.Fatalf("Pending = %d, want 2 (damaged lines are not records)", n)
	}
	var c collector
	if err := l.ForwardOnce(context.Background(), c.send); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, c.delivered()); diff != "" {
		t.Fatalf("delivered (-want +got):\n%s", diff)
	}
	if !strings.Contains(logs.String(), "damaged") {
		t.Errorf("skipping a damaged record logged nothing: %q", logs.String())
	}
	if n := pending(t, l); n != 0 {
		t.Fatalf("Pending after forwarding = %d", n)
	}
}

func TestConcurrentForwardOnceNeverDuplicates(t *testing.T) {
	leak.Check(t)
	l := open(t, t.TempDir())
	const before, during = 350, 200
	record(t, l, 0, before)

	var c collector
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := before; i < before+during; i++ {
			if err := l.Record(event(i)); err != nil {
				errs <- err
				return
			}
		}
	}()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if err := l.ForwardOnce(context.Background(), c.send); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Whatever the race left over goes in one last pass.
	if err := l.ForwardOnce(context.Background(), c.send); err != nil {
		t.Fatal(err)
	}

	got := c.delivered()
	seen := map[string]int{}
	for _, ev := range got {
		seen[ev.Fields["n"]]++
	}
	for i := range before + during {
		if n := seen[strconv.Itoa(i)]; n != 1 {
			t.Errorf("record %d delivered %d times", i, n)
		}
	}
	for i, ev := range got {
		if ev.Fields["n"] != strconv.Itoa(i) {
			t.Fatalf("delivery %d is record %s: out of order", i, ev.Fields["n"])
		}
	}
	for _, n := range c.sizes() {
		if n > batchMax || n == 0 {
			t.Fatalf("batch of %d records", n)
		}
	}
}

func TestForwardSendsOnRecord(t *testing.T) {
	leak.Check(t)
	l := open(t, t.TempDir())
	got := make(chan []wire.AuditEvent, 1)
	send := func(_ context.Context, evs []wire.AuditEvent) error {
		got <- append([]wire.AuditEvent(nil), evs...)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The retry interval is far away: only the new record can wake it.
		l.Forward(ctx, send, time.Hour)
	}()
	if err := l.Record(event(7)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]wire.AuditEvent{event(7)}, wait.Recv(t, "the new record forwarded", got)); diff != "" {
		t.Errorf("forwarded (-want +got):\n%s", diff)
	}
	cancel()
	wait.Recv(t, "Forward to return once canceled", done)
}

// FuzzDecode reads arbitrary bytes as the trail, in memory and batch by
// batch as All, Pending and ForwardOnce do (the tests above cover the file):
// reading never fails or panics, returns exactly the complete lines that
// decode as records, in order, at most batchMax at a time, reports every
// other complete line as damaged at its offset, and stops before a torn
// last line.
func FuzzDecode(f *testing.F) {
	good, err := json.Marshal(event(1))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		"",
		"\n",
		"\n\n\n",
		string(good) + "\n",
		string(good) + "\n" + string(good[:20]),
		string(good) + "\nnot json\n" + string(good) + "\n",
		"null\n{}\n[]\n\"s\"\n1\n",
		`{"time":"not a time"}` + "\n",
		`{"fields":{"a":1}}` + "\n",
		"   " + string(good) + "  \r\n",
		strings.Repeat("x", lineMax+10) + "\n" + string(good) + "\n",
		strings.Repeat(string(good)+"\n", batchMax+3),
		string(good),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want []wire.AuditEvent
		var damaged []int64
		for start := 0; ; {
			i := bytes.IndexByte(data[start:], '\n')
			if i < 0 {
				break
			}
			line := bytes.TrimSpace(data[start : start+i])
			var ev wire.AuditEvent
			if json.Valid(line) && json.Unmarshal(line, &ev) == nil {
				want = append(want, ev)
			} else {
				damaged = append(damaged, int64(start))
			}
			start += i + 1
		}

		var got []wire.AuditEvent
		var skipped []int64
		var off int64
		for {
			evs, next, err := decode(bytes.NewReader(data[off:]), off, func(at int64, err error) {
				if err == nil {
					t.Errorf("line at %d skipped without an error", at)
				}
				skipped = append(skipped, at)
			})
			if err != nil {
				t.Fatalf("decode(from %d): %v", off, err)
			}
			if len(evs) > batchMax || next < off || next > int64(len(data)) {
				t.Fatalf("decode(from %d) = %d records, next %d", off, len(evs), next)
			}
			if next > off && data[next-1] != '\n' {
				t.Fatalf("decode(from %d) stopped at %d, inside a line", off, next)
			}
			got = append(got, evs...)
			off = next
			if len(evs) == 0 {
				break
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("records (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(damaged, skipped); diff != "" {
			t.Fatalf("damaged lines skipped at (-want +got):\n%s", diff)
		}
		if end := int64(bytes.LastIndexByte(data, '\n') + 1); off != end {
			t.Fatalf("reading stopped at %d, want %d", off, end)
		}
	})
}
