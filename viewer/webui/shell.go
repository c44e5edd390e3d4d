package webui

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"github.com/peerdesk/peerdesk/templates/viewerui"
	"github.com/peerdesk/peerdesk/viewer"
	"github.com/peerdesk/peerdesk/wire"
)

// The shell page (R4): xterm.js in the technician's browser, a WebSocket to
// this page's server, which starts the shell on the agent over the overlay
// (viewer.Viewer.Shell) and carries frames both ways. The browser's
// WebSocket passes the page's guard (host, cookie) and must come from the
// page's own origin (websocket.Accept checks Origin against Host), so
// another site cannot open a shell through the technician's browser.

func (s *Server) routeShell(mux *http.ServeMux) {
	mux.HandleFunc("GET /device/{id}/shell", s.shellPage)
	mux.HandleFunc("GET /api/shell/{device}", s.shellSocket)
}

func (s *Server) shellPage(w http.ResponseWriter, r *http.Request) {
	device := r.PathValue("id")
	if len(device) > wire.MaxNameLen {
		http.NotFound(w, r)
		return
	}
	shell := r.URL.Query().Get("shell")
	if _, err := wire.ParseShellRequest("shell=" + shell); shell != "" && err != nil {
		shell = ""
	}
	title := device
	if devs, err := s.v.Devices(r.Context()); err == nil {
		for _, d := range devs {
			if d.ID == device {
				title = d.Hostname
			}
		}
	}
	cfg, _ := json.Marshal(map[string]string{"device": device, "shell": shell}) //nolint:errcheck // strings cannot fail
	s.render(w, r, http.StatusOK, viewerui.ShellPage(viewerui.ShellView{Title: title, Device: device, Config: string(cfg)}))
}

// shellSocket bridges the browser's WebSocket to a shell on the device.
// A refusal (no grant, no consent, no such shell) reaches the page as an
// exit frame with the reason in words.
func (s *Server) shellSocket(w http.ResponseWriter, r *http.Request) {
	device := r.PathValue("device")
	req, err := wire.ParseShellRequest(r.URL.RawQuery)
	if err != nil || len(req.Command) > 0 || len(device) > wire.MaxNameLen {
		http.Error(w, "bad shell request", http.StatusBadRequest)
		return
	}
	ctx, done, ok := s.shells.begin()
	if !ok {
		http.Error(w, "closing", http.StatusServiceUnavailable)
		return
	}
	defer done()
	browser, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer browser.CloseNow() //nolint:errcheck // closed already on the normal path
	browser.SetReadLimit(wire.MaxShellFrame + 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // the page's server going away ends the bridge
		select {
		case <-r.Context().Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	sh, err := s.v.Shell(ctx, device, req)
	if err != nil {
		s.log.Info("shell refused", "device", device, "err", err)
		msg := wire.EncodeShellFrame(wire.ShellFrame{Type: wire.ShellExit, Exit: wire.ShellExitStatus{Code: -1, Reason: wire.ShellFailed, Message: peerMessage(err)}})
		if browser.Write(ctx, websocket.MessageBinary, msg) == nil {
			browser.Close(websocket.StatusNormalClosure, "") //nolint:errcheck // told
		}
		return
	}
	defer sh.Close() //nolint:errcheck // ends the shell if the browser went first
	bridge(ctx, cancel, browser, sh)
}

// bridge carries frames until either side ends: the browser's input,
// resizes and end of input to the agent; the agent's output and exit
// status to the browser.
func bridge(ctx context.Context, cancel context.CancelFunc, browser *websocket.Conn, sh *viewer.ShellConn) {
	var wg sync.WaitGroup
	wg.Go(func() {
		defer cancel()
		for {
			typ, b, err := browser.Read(ctx)
			if err != nil || typ != websocket.MessageBinary {
				return
			}
			f, err := wire.DecodeShellFrame(b)
			if err != nil {
				return
			}
			switch f.Type {
			case wire.ShellInput, wire.ShellResize, wire.ShellEOF:
				if sh.Send(ctx, f) != nil {
					return
				}
			default:
				return
			}
		}
	})
	for {
		f, err := sh.Next(ctx)
		if err != nil {
			break
		}
		if browser.Write(ctx, websocket.MessageBinary, wire.EncodeShellFrame(f)) != nil {
			break
		}
		if f.Type == wire.ShellExit {
			// The close handshake (bounded by the library) ends the
			// reader above.
			browser.Close(websocket.StatusNormalClosure, f.Exit.Reason) //nolint:errcheck // the page has the status
			break
		}
	}
	cancel()
	wg.Wait()
}

// shellSet tracks the page's shell bridges, so Close ends them and waits
// (a hijacked connection outlives http.Server.Close).
type shellSet struct {
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	closed bool
	wg     sync.WaitGroup
}

func newShellSet() *shellSet {
	ctx, cancel := context.WithCancel(context.Background())
	return &shellSet{ctx: ctx, cancel: cancel}
}

func (s *shellSet) begin() (context.Context, func(), bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, false
	}
	s.wg.Add(1)
	return s.ctx, s.wg.Done, true
}

func (s *shellSet) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}
