package shot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"log"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jezek/xgb"

	"github.com/peerdesk/peerdesk/agent/outbox"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/harness/xclient"
	"github.com/peerdesk/peerdesk/wire"
)

func TestMain(m *testing.M) {
	xgb.Logger = log.New(io.Discard, "", 0) // it logs a missing ~/.Xauthority on its own
	os.Exit(leak.Main(m))
}

// filer stands for the coordinator: it files an ID once.
type filer struct {
	mu    sync.Mutex
	tries int
	got   []wire.AgentTicket
	err   error
	filed chan wire.AgentTicket
}

func (f *filer) FileTicket(_ context.Context, t wire.AgentTicket) (wire.AgentTicketReceipt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tries++
	if f.err != nil {
		return wire.AgentTicketReceipt{}, f.err
	}
	for _, g := range f.got {
		if g.ID == t.ID {
			return wire.AgentTicketReceipt{Ticket: "T-1", Duplicate: true}, nil
		}
	}
	f.got = append(f.got, t)
	f.filed <- t
	return wire.AgentTicketReceipt{Ticket: "T-1"}, nil
}

var tinyPNG = func() []byte {
	var b bytes.Buffer
	png.Encode(&b, image1x1()) //nolint:errcheck // into memory
	return b.Bytes()
}()

func TestFileQueuesThenSends(t *testing.T) {
	leak.Check(t)
	ob, err := outbox.Open(t.TempDir(), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	f := &filer{filed: make(chan wire.AgentTicket, 10), err: &wire.Error{Code: wire.CodeInternal, Message: "502 Bad Gateway"}}
	now := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)
	s := New(Config{
		Queue: ob, Filer: f, Now: func() time.Time { return now },
		Screen: func(context.Context) ([]byte, error) { return tinyPNG, nil },
		System: func(context.Context) (wire.Inventory, error) {
			return wire.Inventory{Hostname: "desk-7", Collected: now}, nil
		},
		User: func() string { return "erin" },
	})
	d, err := s.Take(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(d.ID) {
		t.Errorf("draft ID %q is not 32 lowercase hex digits", d.ID)
	}
	if _, err := s.File(d.ID, "x", "whenever"); !errors.Is(err, ErrPriority) {
		t.Errorf("File with priority whenever = %v, want ErrPriority", err)
	}
	if _, err := s.File("nope", "x", wire.PriorityHigh); !errors.Is(err, ErrNoDraft) {
		t.Errorf("File of an unknown draft = %v, want ErrNoDraft", err)
	}
	if _, err := s.File(d.ID, strings.Repeat("x", wire.MaxTicketText+1), wire.PriorityHigh); !errors.Is(err, ErrTooLong) {
		t.Errorf("File with a long description = %v, want ErrTooLong", err)
	}
	r, err := s.File(d.ID, "  The printer says offline\r\nsince this morning, on every document.", wire.PriorityHigh)
	if err != nil {
		t.Fatal(err)
	}
	if r2, err := s.File(d.ID, "again", wire.PriorityLow); err != nil || r2.ID != r.ID {
		t.Errorf("filing the same draft again = %+v, %v; want the first report", r2, err)
	}
	if _, ok := s.Draft(); ok {
		t.Error("the draft is still pending after File")
	}
	if n, _ := ob.Len(); n != 1 {
		t.Fatalf("%d items queued, want 1", n)
	}
	reps, changed := s.Reports()
	if len(reps) != 1 || reps[0].Sent() {
		t.Fatalf("Reports = %+v, want one, queued", reps)
	}

	// The coordinator is down, then back.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ob.Drain(ctx, s.Send) }()
	defer func() { cancel(); <-done }()
	wait.For(t, "a failed attempt to send", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.tries > 0 })
	if reps, _ := s.Reports(); reps[0].Sent() {
		t.Error("the report says sent while the coordinator is down")
	}
	f.mu.Lock()
	f.err = nil
	f.mu.Unlock()
	ob.Kick()
	got := wait.Recv(t, "the filed ticket", f.filed)
	<-changed
	wait.For(t, "the report to say it was sent", func() bool { reps, _ := s.Reports(); return reps[0].Ticket == "T-1" })
	want := wire.AgentTicket{
		ID: d.ID, Title: "The printer says offline", Description: "The printer says offline\nsince this morning, on every document.",
		Priority: wire.PriorityHigh, User: "erin", Created: now,
		Attachments: []wire.Attachment{{Name: ScreenshotName, Type: "image/png", Data: tinyPNG}},
	}
	sys, _ := json.MarshalIndent(wire.Inventory{Hostname: "desk-7", Collected: now}, "", "  ")
	want.Attachments = append(want.Attachments, wire.Attachment{Name: SystemName, Type: "application/json", Data: sys})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("filed ticket (-want +got):\n%s", diff)
	}
}

func TestMissingPartsAreSaid(t *testing.T) {
	t.Parallel()
	ob, err := outbox.Open(t.TempDir(), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Queue: ob, User: func() string { return "erin" },
		Screen: func(context.Context) ([]byte, error) { return nil, errors.New("no display") }})
	d, err := s.Take(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tk := Ticket(d, "", wire.PriorityNormal)
	if len(tk.Attachments) != 0 || !strings.Contains(tk.Description, "Not attached: the screen (it could not be captured); the system information") {
		t.Errorf("ticket without parts = %+v", tk)
	}
	if tk.Title == "" {
		t.Error("no title for an empty description")
	}
}

func TestSendRefusalIsFinal(t *testing.T) {
	t.Parallel()
	s := New(Config{Filer: &filer{err: &wire.Error{Code: wire.CodeBadRequest, Message: "no"}}})
	payload, _ := json.Marshal(wire.AgentTicket{ID: "ab"})
	if err := s.Send(context.Background(), outbox.Item{Kind: Kind, ID: "ab", Payload: payload}); !outbox.IsPermanent(err) {
		t.Errorf("Send refused as bad_request = %v, want a permanent error", err)
	}
	s = New(Config{Filer: &filer{err: errors.New("connection refused")}})
	if err := s.Send(context.Background(), outbox.Item{Kind: Kind, ID: "ab", Payload: payload}); err == nil || outbox.IsPermanent(err) {
		t.Errorf("Send while unreachable = %v, want a retryable error", err)
	}
	if err := s.Send(context.Background(), outbox.Item{Kind: "chat", ID: "ab"}); !outbox.IsPermanent(err) {
		t.Errorf("Send of another kind = %v, want a permanent error", err)
	}
}

// TestScreenOnXvfb: the PNG is the screen, pixel for pixel.
func TestScreenOnXvfb(t *testing.T) {
	leak.Check(t)
	display := xclient.StartXvfb(t, 320, 240)
	w := xclient.OpenWindow(t, display, 0, 0, 320, 240)
	if err := w.DrawPattern(); err != nil {
		t.Fatal(err)
	}
	b, err := Screen(context.Background(), display)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 320 || img.Bounds().Dy() != 240 {
		t.Fatalf("screenshot is %v, want 320x240", img.Bounds())
	}
	for _, p := range [][2]int{{0, 0}, {100, 50}, {319, 239}, {200, 180}} {
		r, g, bl, a := img.At(p[0], p[1]).RGBA()
		want := xclient.PatternColor(p[0], p[1])
		if uint8(r>>8) != want.R || uint8(g>>8) != want.G || uint8(bl>>8) != want.B || a != 0xffff {
			t.Errorf("pixel %v = %02x%02x%02x/%x, want %02x%02x%02x", p, r>>8, g>>8, bl>>8, a, want.R, want.G, want.B)
		}
	}
}
