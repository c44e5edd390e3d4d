//go:build unix

package outbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
)

// The crash tests run this test binary again as a child that puts or
// drains and is SIGKILLed: by itself at a chosen step of a chosen item
// (every step of Put and Drain), or by the parent at a moment it picks.
func init() { childMain = child }

// child runs one child mode:
//
//	put DIR N STEP SEQ    put items id-0000… until N, print "put ID" after each returns
//	drain DIR URL STEP SEQ  drain to URL until the queue is empty, then print "empty"
//
// and kills itself with SIGKILL at step STEP of item SEQ ("-" never).
func child(mode string) int {
	args := strings.Fields(os.Getenv("PEERDESK_OUTBOX_ARGS"))
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 2 }
	o, err := Open(args[0], Options{})
	if err != nil {
		return fail(err)
	}
	killStep := args[2]
	killSeq, _ := strconv.ParseUint(args[3], 10, 64)
	o.hook = func(step string, seq uint64) {
		if step == killStep && seq == killSeq {
			syscall.Kill(os.Getpid(), syscall.SIGKILL) //nolint:errcheck // the test sees the child die, or not
			select {}
		}
	}
	out := bufio.NewWriter(os.Stdout)
	switch mode {
	case "put":
		n, _ := strconv.Atoi(args[1])
		for i := range n {
			id := fmt.Sprintf("id-%04d", i)
			if err := o.Put("msg", id, []byte("payload of "+id)); err != nil {
				return fail(err)
			}
			fmt.Fprintln(out, "put", id)
			out.Flush()
		}
	case "drain":
		url := args[1]
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			// Ends the drain once the queue is empty.
			for {
				n, _ := o.Len()
				_, changed := o.Queued("")
				if n == 0 {
					cancel()
					return
				}
				<-changed
			}
		}()
		err := o.Drain(ctx, func(ctx context.Context, it Item) error { return post(ctx, url, it) })
		if !errors.Is(err, context.Canceled) {
			return fail(err)
		}
		fmt.Fprintln(out, "empty")
		out.Flush()
	}
	return 0
}

// post sends an item to the test's receiver.
func post(ctx context.Context, url string, it Item) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(it.Payload))
	if err != nil {
		return err
	}
	req.Header.Set("Item-Id", it.ID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body) //nolint:errcheck // the status is the answer
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// receiver stands for the coordinator: it files each id once (as
// wire.PathAgentTickets does) and counts what came twice.
type receiver struct {
	mu       sync.Mutex
	filed    []string // in the order first received
	seen     map[string]bool
	resent   int // deliveries of an id already filed (the receiver dedupes them)
	bad      int // payloads that did not match their id
	down     bool
	received chan string
}

func newReceiver(t *testing.T) (*receiver, string) {
	rc := &receiver{seen: map[string]bool{}, received: make(chan string, 100000)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("Item-Id")
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if string(body) != "payload of "+id {
			rc.bad++
		}
		if rc.seen[id] {
			rc.resent++
		} else {
			rc.seen[id] = true
			rc.filed = append(rc.filed, id)
		}
		rc.received <- id
	}))
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

func (rc *receiver) snapshot() (filed []string, resent, bad int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.filed), rc.resent, rc.bad
}

// runChild starts the child; lines gets its stdout lines; done its exit.
func runChild(t *testing.T, mode string, args ...string) (lines <-chan string, done <-chan error, cmd *exec.Cmd) {
	t.Helper()
	cmd = exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "PEERDESK_OUTBOX_ARGS="+strings.Join(args, " "))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lc := make(chan string, 100000)
	dc := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lc <- sc.Text()
		}
		close(lc)
		err := cmd.Wait()
		if err != nil && stderr.Len() > 0 {
			err = fmt.Errorf("%w: %s", err, stderr.String())
		}
		dc <- err
	}()
	return lc, dc, cmd
}

func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

func ids(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("id-%04d", i))
	}
	return out
}

// TestCrashMidPut kills a putting process at every step of the third Put:
// every Put that returned survives, in order; the one in flight is there
// whole once its rename happened and absent before, never torn; the next
// Open leaves no temporary file.
func TestCrashMidPut(t *testing.T) {
	leak.Check(t)
	const n, at = 5, 3 // the item with sequence number 3 is id-0002
	for _, c := range []struct {
		step    string
		present bool // the item in flight is queued after the crash
	}{
		{"put:created", false}, {"put:written", false}, {"put:synced", false},
		{"put:renamed", true}, {"put:done", true},
	} {
		t.Run(c.step, func(t *testing.T) {
			dir := t.TempDir()
			lines, done, _ := runChild(t, "put", dir, strconv.Itoa(n), c.step, strconv.Itoa(at))
			var acked []string
			for l := range lines {
				acked = append(acked, strings.TrimPrefix(l, "put "))
			}
			if err := wait.Recv(t, "the child to end", done); !killedBySIGKILL(err) {
				t.Fatalf("child ended with %v, want SIGKILL", err)
			}
			if diff := slices.Compare(acked, ids(at-1)); diff != 0 {
				t.Fatalf("acknowledged %v before the kill, want %v", acked, ids(at-1))
			}
			o := mustOpen(t, dir, Options{})
			var queued []string
			for _, e := range o.queue {
				queued = append(queued, e.id)
			}
			want := ids(at - 1)
			if c.present {
				want = ids(at)
			}
			if !slices.Equal(queued, want) {
				t.Errorf("queued after the crash: %v, want %v", queued, want)
			}
			if len(o.Corrupt()) != 0 {
				t.Errorf("damaged files after a crash: %v", o.Corrupt())
			}
			for _, f := range itemFiles(t, dir) {
				if strings.HasPrefix(f, "tmp-") {
					t.Errorf("temporary file %s left after Open", f)
				}
			}
			// The caller did not get an answer and puts the item again:
			// it is queued once.
			if err := o.Put("msg", fmt.Sprintf("id-%04d", at-1), []byte("payload of "+fmt.Sprintf("id-%04d", at-1))); err != nil {
				t.Fatal(err)
			}
			if got, _ := o.Len(); got != at {
				t.Errorf("Len after putting the item again = %d, want %d", got, at)
			}
		})
	}
}

// TestCrashMidDrain kills a draining process at every step of sending the
// third item, then drains what is left in a second process: every item is
// filed once, in order; only a kill between the receiver's acceptance and
// the removal sends that one item again (which the receiver, like the
// coordinator, files once).
func TestCrashMidDrain(t *testing.T) {
	leak.Check(t)
	const n, at = 5, 3
	for _, c := range []struct {
		step   string
		resent int
	}{
		{"drain:sending", 0}, {"drain:sent", 1}, {"drain:removed", 0},
	} {
		t.Run(c.step, func(t *testing.T) {
			dir := t.TempDir()
			o := mustOpen(t, dir, Options{})
			for _, id := range ids(n) {
				if err := o.Put("msg", id, []byte("payload of "+id)); err != nil {
					t.Fatal(err)
				}
			}
			o.Close()
			rc, url := newReceiver(t)
			_, done, _ := runChild(t, "drain", dir, url, c.step, strconv.Itoa(at))
			if err := wait.Recv(t, "the first child to end", done); !killedBySIGKILL(err) {
				t.Fatalf("child ended with %v, want SIGKILL", err)
			}
			lines, done, _ := runChild(t, "drain", dir, url, "-", "0")
			if err := wait.Recv(t, "the second child to end", done); err != nil {
				t.Fatalf("second child: %v", err)
			}
			if l := <-lines; l != "empty" {
				t.Errorf("second child said %q, want empty", l)
			}
			filed, resent, bad := rc.snapshot()
			if !slices.Equal(filed, ids(n)) {
				t.Errorf("filed %v, want %v in order", filed, ids(n))
			}
			if resent != c.resent || bad != 0 {
				t.Errorf("sent again %d (want %d), with a wrong payload %d", resent, c.resent, bad)
			}
		})
	}
}

// TestQueueFigures is the offline-queue figure of docs/BENCHMARKS.md:
// 1,000 messages queued while the receiver is down, delivered once and in
// order after it comes back; then 1,000 more drained by a process that is
// SIGKILLed mid-drain and restarted, losing none. Set
// PEERDESK_OUTBOX_FIGURES=1 to run it:
//
//	PEERDESK_OUTBOX_FIGURES=1 go test -run TestQueueFigures -v ./agent/outbox/
func TestQueueFigures(t *testing.T) {
	if os.Getenv("PEERDESK_OUTBOX_FIGURES") == "" {
		t.Skip("set PEERDESK_OUTBOX_FIGURES=1 to measure the offline queue")
	}
	leak.Check(t)
	const n = 1000

	// 1. Down, then back, in process.
	dir := t.TempDir()
	rc, url := newReceiver(t)
	rc.mu.Lock()
	rc.down = true
	rc.mu.Unlock()
	o := mustOpen(t, dir, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	drained := make(chan error, 1)
	go func() {
		drained <- o.Drain(ctx, func(ctx context.Context, it Item) error { return post(ctx, url, it) })
	}()
	began := time.Now()
	for _, id := range ids(n) {
		if err := o.Put("msg", id, []byte("payload of "+id)); err != nil {
			t.Fatal(err)
		}
	}
	putTook := time.Since(began)
	if got, _ := o.Len(); got != n {
		t.Fatalf("%d queued while down, want %d", got, n)
	}
	rc.mu.Lock()
	rc.down = false
	rc.mu.Unlock()
	back := time.Now()
	o.Kick()
	wait.For(t, "the queue to empty", func() bool { q, _ := o.Len(); return q == 0 })
	drainTook := time.Since(back)
	cancel()
	<-drained
	filed, resent, bad := rc.snapshot()
	lost := n - len(filed)
	inOrder := slices.Equal(filed, ids(n))
	t.Logf("down then back: %d queued in %v (%.2f ms a Put, fsynced); drained in %v (%.2f ms an item); filed %d, in order %v, lost %d, sent twice %d, bad %d",
		n, putTook.Round(time.Millisecond), float64(putTook.Microseconds())/1000/n, drainTook.Round(time.Millisecond), float64(drainTook.Microseconds())/1000/n, len(filed), inOrder, lost, resent, bad)
	if lost != 0 || resent != 0 || !inOrder || bad != 0 {
		t.Errorf("want all %d filed once in order", n)
	}

	// 2. Killed mid-drain, restarted.
	dir2 := t.TempDir()
	o2 := mustOpen(t, dir2, Options{})
	for _, id := range ids(n) {
		if err := o2.Put("msg", id, []byte("payload of "+id)); err != nil {
			t.Fatal(err)
		}
	}
	o2.Close()
	rc2, url2 := newReceiver(t)
	_, done, cmd := runChild(t, "drain", dir2, url2, "-", "0")
	began = time.Now()
	for range n / 3 {
		wait.Recv(t, "a delivery", rc2.received)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := wait.Recv(t, "the killed child", done); !killedBySIGKILL(err) {
		t.Fatalf("child ended with %v, want SIGKILL", err)
	}
	before, _, _ := rc2.snapshot()
	_, done, _ = runChild(t, "drain", dir2, url2, "-", "0")
	if err := wait.Recv(t, "the restarted child", done); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	filed, resent, bad = rc2.snapshot()
	lost = n - len(filed)
	inOrder = slices.Equal(filed, ids(n))
	t.Logf("SIGKILLed mid-drain after %d filed, restarted: all drained in %v (two processes); filed %d, in order %v, lost %d, filed twice 0 (the receiver files an id once), sent again after the kill %d, bad %d",
		len(before), took.Round(time.Millisecond), len(filed), inOrder, lost, resent, bad)
	if lost != 0 || !inOrder || resent > 1 || bad != 0 {
		t.Errorf("want all %d filed in order, at most one sent again", n)
	}
}
