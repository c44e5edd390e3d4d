package viewer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

// SysTools calls a device's system tools (processes, services, installed
// applications, event logs: issue 13 item 4) over the overlay. It keeps
// one grant per device and capability while it has more than a minute to
// live, so a live process list refreshing every two seconds asks the
// coordinator once per grant, not at every refresh. Each tool asks for its
// own capability only: a grant for processes never carries services.
type SysTools struct {
	v   *Viewer
	now func() time.Time

	mu     sync.Mutex
	grants map[grantKey]wire.GrantResponse
}

type grantKey struct {
	device string
	cap    wire.Capability
}

// NewSysTools is the system tools of v's technician.
func NewSysTools(v *Viewer) *SysTools {
	return &SysTools{v: v, now: time.Now, grants: map[grantKey]wire.GrantResponse{}}
}

// ErrNotOffered: the agent does not serve the tool (an older agent).
var ErrNotOffered = errors.New("viewer: this machine's agent does not offer that tool (it is older); update the agent")

// maxAnswer bounds a system tool's JSON answer.
const maxAnswer = 32 << 20

func (s *SysTools) grant(ctx context.Context, device string, c wire.Capability) (wire.GrantResponse, error) {
	k := grantKey{device, c}
	s.mu.Lock()
	g, ok := s.grants[k]
	s.mu.Unlock()
	if ok && g.Expires.Sub(s.now()) > time.Minute {
		return g, nil
	}
	g, err := s.v.Grant(ctx, device, c)
	if err != nil {
		return g, err
	}
	s.mu.Lock()
	s.grants[k] = g
	s.mu.Unlock()
	return g, nil
}

func (s *SysTools) forget(device string, c wire.Capability) {
	s.mu.Lock()
	delete(s.grants, grantKey{device, c})
	s.mu.Unlock()
}

// do makes one peer call for capability c and returns the answer's body
// when it is 200; a refused grant is forgotten and asked again once.
func (s *SysTools) do(ctx context.Context, device string, c wire.Capability, method, path string, in any) (io.ReadCloser, error) {
	for attempt := 0; ; attempt++ {
		g, err := s.grant(ctx, device, c)
		if err != nil {
			return nil, err
		}
		body, err := s.call(ctx, g, method, path, in)
		var we *wire.Error
		if attempt == 0 && errors.As(err, &we) && (we.Code == wire.CodeExpired || we.Code == wire.CodeUnauthorized) {
			s.forget(device, c)
			continue
		}
		return body, err
	}
}

func (s *SysTools) call(ctx context.Context, g wire.GrantResponse, method, path string, in any) (io.ReadCloser, error) {
	n, err := s.v.Node(ctx)
	if err != nil {
		return nil, err
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+net.JoinHostPort(g.OverlayIP, strconv.Itoa(wire.PeerPort))+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set(wire.HeaderGrant, g.Grant)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: n.Dial, DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("viewer: calling the agent: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Body, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // what was read is the error
	var e wire.Error
	if json.Unmarshal(data, &e) != nil || e.Code == "" {
		if resp.StatusCode == http.StatusNotFound {
			return nil, ErrNotOffered
		}
		e = wire.Error{Code: wire.CodeInternal, Message: resp.Status}
	}
	return nil, &e
}

func (s *SysTools) json(ctx context.Context, device string, c wire.Capability, method, path string, in, out any) error {
	body, err := s.do(ctx, device, c, method, path, in)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := json.NewDecoder(io.LimitReader(body, maxAnswer)).Decode(out); err != nil {
		return fmt.Errorf("viewer: the agent's answer: %w", err)
	}
	return nil
}

// Processes lists the device's processes.
func (s *SysTools) Processes(ctx context.Context, device string) (wire.ProcessList, error) {
	var l wire.ProcessList
	return l, s.json(ctx, device, wire.CapProcesses, http.MethodGet, wire.PeerPathProcesses, nil, &l)
}

// Kill ends one process, named by its id and start time.
func (s *SysTools) Kill(ctx context.Context, device string, k wire.ProcessKill) (wire.ProcessKilled, error) {
	var res wire.ProcessKilled
	if err := k.Check(); err != nil {
		return res, &wire.Error{Code: wire.CodeBadRequest, Message: err.Error()}
	}
	return res, s.json(ctx, device, wire.CapProcesses, http.MethodPost, wire.PeerPathProcessKill, k, &res)
}

// Services lists the device's services.
func (s *SysTools) Services(ctx context.Context, device string) (wire.ServiceList, error) {
	var l wire.ServiceList
	return l, s.json(ctx, device, wire.CapServices, http.MethodGet, wire.PeerPathServices, nil, &l)
}

// Service starts, stops or restarts one service.
func (s *SysTools) Service(ctx context.Context, device string, a wire.ServiceAction) (wire.ServiceResult, error) {
	var res wire.ServiceResult
	if err := a.Check(); err != nil {
		return res, &wire.Error{Code: wire.CodeBadRequest, Message: err.Error()}
	}
	return res, s.json(ctx, device, wire.CapServices, http.MethodPost, wire.PeerPathServiceDo, a, &res)
}

// Apps lists the device's installed applications.
func (s *SysTools) Apps(ctx context.Context, device string) (wire.AppList, error) {
	var l wire.AppList
	return l, s.json(ctx, device, wire.CapApps, http.MethodGet, wire.PeerPathApps, nil, &l)
}

// Logs streams the device's event log entries q asks for to fn, newest
// first, and returns the answer's end.
func (s *SysTools) Logs(ctx context.Context, device string, q wire.LogQuery, fn func(wire.LogEntry) error) (wire.LogEnd, error) {
	if err := q.Check(); err != nil {
		return wire.LogEnd{}, &wire.Error{Code: wire.CodeBadRequest, Message: err.Error()}
	}
	body, err := s.do(ctx, device, wire.CapLogs, http.MethodPost, wire.PeerPathLogs, q)
	if err != nil {
		return wire.LogEnd{}, err
	}
	defer body.Close()
	return wire.ReadLogStream(body, fn)
}
