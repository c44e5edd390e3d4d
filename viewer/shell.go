package viewer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/coder/websocket"

	"github.com/peerdesk/peerdesk/wire"
)

// ShellConn is a shell or command running on an agent (wire.CapShell),
// reached peer to peer: frames in with Send, frames out with Next, the
// exit status last.
type ShellConn struct {
	conn *websocket.Conn
	wmu  sync.Mutex
}

// Shell asks the coordinator for a shell grant on device and starts req
// there. A refusal (no grant, no consent, a bad request) is a *wire.Error.
func (v *Viewer) Shell(ctx context.Context, device string, req wire.ShellRequest) (*ShellConn, error) {
	g, err := v.Grant(ctx, device, wire.CapShell)
	if err != nil {
		return nil, err
	}
	return v.ShellWith(ctx, g, req)
}

// ShellWith starts req with a grant already in hand.
func (v *Viewer) ShellWith(ctx context.Context, g wire.GrantResponse, req wire.ShellRequest) (*ShellConn, error) {
	n, err := v.Node(ctx)
	if err != nil {
		return nil, err
	}
	u := "ws://" + net.JoinHostPort(g.OverlayIP, strconv.Itoa(wire.PeerPort)) + wire.PeerPathShell + "?" + req.Query()
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: &http.Transport{DialContext: n.Dial, DisableKeepAlives: true}},
		HTTPHeader: http.Header{wire.HeaderGrant: {g.Grant}},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			var e wire.Error
			if b, rerr := io.ReadAll(resp.Body); rerr == nil && json.Unmarshal(b, &e) == nil && e.Code != "" {
				return nil, &e
			}
			return nil, &wire.Error{Code: wire.CodeInternal, Message: resp.Status}
		}
		return nil, fmt.Errorf("viewer: calling the agent: %w", err)
	}
	conn.SetReadLimit(wire.MaxShellFrame + 1)
	return &ShellConn{conn: conn}, nil
}

// Send sends one frame (input, resize or end of input).
func (s *ShellConn) Send(ctx context.Context, f wire.ShellFrame) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.conn.Write(ctx, websocket.MessageBinary, wire.EncodeShellFrame(f))
}

// ErrShellGone: the connection ended without an exit status.
var ErrShellGone = errors.New("viewer: the shell's connection ended without an exit status")

// Next returns the agent's next frame: output, stderr, or the exit status
// (the last). Cancelling ctx closes the connection.
func (s *ShellConn) Next(ctx context.Context) (wire.ShellFrame, error) {
	typ, b, err := s.conn.Read(ctx)
	if err != nil {
		return wire.ShellFrame{}, fmt.Errorf("%w: %v", ErrShellGone, err)
	}
	if typ != websocket.MessageBinary {
		return wire.ShellFrame{}, fmt.Errorf("viewer: the agent sent a text message")
	}
	f, err := wire.DecodeShellFrame(b)
	if err != nil {
		return wire.ShellFrame{}, err
	}
	switch f.Type {
	case wire.ShellOutput, wire.ShellStderr, wire.ShellExit:
		return f, nil
	}
	return wire.ShellFrame{}, fmt.Errorf("viewer: the agent sent a frame of type %q", f.Type)
}

// Close ends the shell (the agent kills it) and the connection.
func (s *ShellConn) Close() error { return s.conn.CloseNow() }

// Run copies in to the shell (ending its input at in's end, if
// endInput) and its output to out and errOut until it exits, and returns
// its exit status.
func (s *ShellConn) Run(ctx context.Context, in io.Reader, endInput bool, out, errOut io.Writer) (wire.ShellExitStatus, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if in != nil {
		go func() { // ends with in, or with the connection; a terminal read is not cancellable
			buf := make([]byte, 4096)
			for {
				n, err := in.Read(buf)
				if n > 0 && s.Send(ctx, wire.ShellFrame{Type: wire.ShellInput, Data: buf[:n]}) != nil {
					return
				}
				if err != nil {
					if endInput {
						s.Send(ctx, wire.ShellFrame{Type: wire.ShellEOF}) //nolint:errcheck // the shell may have gone
					}
					return
				}
			}
		}()
	}
	for {
		f, err := s.Next(ctx)
		if err != nil {
			return wire.ShellExitStatus{}, err
		}
		switch f.Type {
		case wire.ShellOutput:
			if _, err := out.Write(f.Data); err != nil {
				return wire.ShellExitStatus{}, err
			}
		case wire.ShellStderr:
			if _, err := errOut.Write(f.Data); err != nil {
				return wire.ShellExitStatus{}, err
			}
		case wire.ShellExit:
			s.conn.Close(websocket.StatusNormalClosure, "") //nolint:errcheck // the agent closes too
			return f.Exit, nil
		}
	}
}
