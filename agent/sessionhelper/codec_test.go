package sessionhelper

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/rpc"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent/screen"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/wire"
)

// responses is what the helper writes for a run of replies, through one
// codec (gob sends each type once per stream).
type responses struct {
	b bytes.Buffer
	c *serverCodec
}

func newResponses() *responses {
	r := &responses{}
	r.c = newServerCodec(nopCloser{&r.b})
	return r
}

func (r *responses) add(t testing.TB, seq uint64, errText string, body any) {
	t.Helper()
	if err := r.c.WriteResponse(&rpc.Response{ServiceMethod: "Desk.Next", Seq: seq, Error: errText}, body); err != nil {
		t.Fatal(err)
	}
}

type nopCloser struct{ io.ReadWriter }

func (nopCloser) Close() error { return nil }

// TestCodecFramesRawAndReused: a frame's pixels arrive whole, into the
// reply's own buffer when it is large enough; a body net/rpc discards
// (nil) and an error reply leave the stream in step for the next one.
func TestCodecFramesRawAndReused(t *testing.T) {
	t.Parallel()
	pix := bytes.Repeat([]byte{1, 2, 3, 4}, 64)
	rs := newResponses()
	rs.add(t, 1, "", &NextReply{Frame: screen.Frame{Width: 8, Height: 8, Stride: 32, Pix: pix}})
	rs.add(t, 2, "", &NextReply{Frame: screen.Frame{Width: 8, Height: 8, Stride: 32, Pix: pix}})
	rs.add(t, 3, "the screen is not open", struct{}{})
	rs.add(t, 4, "", &NextReply{Idle: true})
	c := newClientCodec(nopCloser{&rs.b})

	read := func(body any) rpc.Response {
		t.Helper()
		var r rpc.Response
		if err := c.ReadResponseHeader(&r); err != nil {
			t.Fatal(err)
		}
		if r.Error != "" {
			body = nil // as net/rpc does
		}
		if err := c.ReadResponseBody(body); err != nil {
			t.Fatalf("response %d: %v", r.Seq, err)
		}
		return r
	}
	own := make([]byte, 0, 1024)
	reply := NextReply{Frame: screen.Frame{Pix: own}}
	read(&reply)
	if !bytes.Equal(reply.Frame.Pix, pix) || reply.Frame.Width != 8 {
		t.Fatalf("frame %+v with %d bytes, want 8x8 and the pixels sent", reply.Frame, len(reply.Frame.Pix))
	}
	if &reply.Frame.Pix[0] != &own[:1][0] {
		t.Error("the pixels were not read into the reply's own buffer")
	}
	read(nil) // discarded: its pixels too
	if r := read(&NextReply{}); r.Seq != 3 || r.Error == "" {
		t.Fatalf("after a discarded frame read %+v, want the error reply 3", r)
	}
	var idle NextReply
	if r := read(&idle); r.Seq != 4 || !idle.Idle || len(idle.Frame.Pix) != 0 {
		t.Fatalf("reply %d = %+v, want 4, idle, no pixels", r.Seq, idle)
	}
	if err := c.ReadResponseHeader(&rpc.Response{}); !errors.Is(err, io.EOF) {
		t.Errorf("after the last reply: %v, want EOF", err)
	}
}

// TestCodecRefusesOversizedAndCut: a length over maxRaw is refused before
// anything is read, and a stream cut inside the pixels is an unexpected
// EOF, not a short frame.
func TestCodecRefusesOversizedAndCut(t *testing.T) {
	t.Parallel()
	rs := newResponses()
	rs.add(t, 1, "", &NextReply{Frame: screen.Frame{Width: 2, Height: 1, Stride: 8, Pix: make([]byte, 8)}})
	full := rs.b.Bytes()
	cut := full[:len(full)-3]
	c := newClientCodec(nopCloser{bytes.NewBuffer(cut)})
	var r rpc.Response
	if err := c.ReadResponseHeader(&r); err != nil {
		t.Fatal(err)
	}
	if err := c.ReadResponseBody(&NextReply{}); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a cut frame: %v, want unexpected EOF", err)
	}

	over := bytes.NewBuffer(nil)
	if err := writeRaw(over, make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	b := over.Bytes()
	b[0], b[1], b[2], b[3] = 0xff, 0xff, 0xff, 0xff
	var dst []byte
	if err := readRaw(bytes.NewReader(b), &dst); err == nil || cap(dst) != 0 {
		t.Errorf("a length of 4 GiB: %v (buffer %d), want refused with nothing allocated", err, cap(dst))
	}
}

// wakeSource reports each Next's start and how it ended.
type wakeSource struct{ started, ended chan error }

func (s wakeSource) Monitors() ([]wire.Monitor, error) { return nil, nil }
func (s wakeSource) Select(int) error                  { return nil }
func (s wakeSource) Next(ctx context.Context) (screen.Frame, error) {
	s.started <- nil
	<-ctx.Done()
	s.ended <- ctx.Err()
	return screen.Frame{}, ctx.Err()
}
func (s wakeSource) Grab() (screen.Frame, error) { return screen.Frame{}, errors.New("no") }
func (s wakeSource) Close() error                { return nil }

// TestNextIsWoken: when the service's session wakes its capture (a
// keyframe request, a monitor switch, the end), the helper's wait for
// damage is cut short (Wake), not left to run out its 250 ms.
func TestNextIsWoken(t *testing.T) {
	t.Parallel()
	a, b := net.Pipe()
	started, ended := make(chan error, 16), make(chan error, 16)
	served := make(chan error, 1)
	go func() {
		served <- Serve(b, Desktop{OpenSource: func() (screen.Source, error) { return wakeSource{started, ended}, nil }})
	}()
	desk := NewRemote(nil)
	desk.Attach(a)
	src, err := desk.OpenSource()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	got := make(chan error, 1)
	go func() {
		_, err := src.Next(ctx)
		got <- err
	}()
	wait.Recv(t, "the helper to wait for damage", started)
	cancel()
	if err := wait.Recv(t, "Next to return", got); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after its context ended: %v, want context.Canceled", err)
	}
	for {
		err := wait.Recv(t, "the helper's Next to end", ended)
		if errors.Is(err, context.Canceled) {
			break // woken
		}
		// A call that ran out its wait before the cancel: look at the next.
	}
	desk.Detach()
	if err := wait.Recv(t, "Serve to return", served); err != nil {
		t.Error(err)
	}
}

// FuzzClientCodec: whatever the pipe delivers, the service's side of the
// codec returns errors, never panics, and holds no more pixels than were
// sent.
func FuzzClientCodec(f *testing.F) {
	rs := newResponses()
	rs.add(f, 1, "", &NextReply{Frame: screen.Frame{Width: 2, Height: 2, Stride: 8, Pix: make([]byte, 16), Time: time.Unix(1, 0)}})
	rs.add(f, 2, "", &NextReply{Idle: true})
	rs.add(f, 3, "no", struct{}{})
	rs.add(f, 4, "", &screen.Frame{Width: 1, Height: 1, Stride: 4, Pix: []byte{1, 2, 3, 4}})
	f.Add(rs.b.Bytes())
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newClientCodec(nopCloser{bytes.NewBuffer(data)})
		for i := 0; i < 8; i++ {
			var r rpc.Response
			if err := c.ReadResponseHeader(&r); err != nil {
				return
			}
			var body any
			switch i % 3 {
			case 0:
				body = &NextReply{}
			case 1:
				body = &screen.Frame{}
			}
			if err := c.ReadResponseBody(body); err != nil {
				return
			}
			if p := pixField(body); p != nil && len(*p) > len(data) {
				t.Fatalf("%d pixels from %d bytes of input", len(*p), len(data))
			}
		}
	})
}
