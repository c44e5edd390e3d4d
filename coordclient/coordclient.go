// Package coordclient is the client side of the coordinator's API, shared by
// agents and viewers. It trusts only the pinned coordinator CA (package
// trust) and turns the coordinator's JSON errors into *wire.Error values.
package coordclient

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/wire"
)

// Client talks to one coordinator.
type Client struct {
	base string
	hc   *http.Client
	auth string // Authorization header value, if any
}

// New returns a client for the coordinator at baseURL whose CA is ca.
func New(baseURL string, ca *x509.Certificate) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: trust.Client(ca)}
}

// NewWithHTTPClient returns a client that sends through hc, whose TLS
// configuration must already trust only the coordinator's CA.
func NewWithHTTPClient(baseURL string, hc *http.Client) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc}
}

// WithSession returns a copy authenticating as a technician session.
func (c *Client) WithSession(token string) *Client {
	cc := *c
	cc.auth = "Bearer " + token
	return &cc
}

// WithDevice returns a copy authenticating as an enrolled device.
func (c *Client) WithDevice(id, secret string) *Client {
	cc := *c
	cc.auth = "Device " + id + ":" + secret
	return &cc
}

// URL is the coordinator's base URL.
func (c *Client) URL() string { return c.base }

// Do sends in (if non-nil) as JSON to path and decodes the answer into out
// (if non-nil). A non-2xx answer is returned as a *wire.Error.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("coordclient: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("coordclient: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("coordclient: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("coordclient: %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e wire.Error
		if json.Unmarshal(data, &e) != nil || e.Code == "" {
			e = wire.Error{Code: wire.CodeInternal, Message: resp.Status}
		}
		return &e
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("coordclient: %s %s: decoding answer: %w", method, path, err)
	}
	return nil
}

// Code returns the coordinator's error code in err, or "".
func Code(err error) string {
	var e *wire.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Enroll redeems an enrollment token.
func (c *Client) Enroll(ctx context.Context, req wire.EnrollRequest) (wire.EnrollResponse, error) {
	var out wire.EnrollResponse
	err := c.Do(ctx, http.MethodPost, wire.PathEnroll, req, &out)
	return out, err
}

// SecondFactor finishes a login whose answer asked for a second factor
// (LoginResponse.SecondFactor): pending is its Pending, code the
// authenticator's code or a recovery code.
func (c *Client) SecondFactor(ctx context.Context, pending, code string) (wire.LoginResponse, error) {
	var out wire.LoginResponse
	err := c.Do(ctx, http.MethodPost, wire.PathLoginSecondFactor, wire.SecondFactorRequest{Pending: pending, Code: code}, &out)
	return out, err
}

// Login logs a technician in. An account with a second factor is answered
// with SecondFactor and Pending only: finish with SecondFactor.
func (c *Client) Login(ctx context.Context, user, password string) (wire.LoginResponse, error) {
	var out wire.LoginResponse
	err := c.Do(ctx, http.MethodPost, wire.PathLogin, wire.LoginRequest{Username: user, Password: password}, &out)
	return out, err
}

// Devices lists enrolled machines.
func (c *Client) Devices(ctx context.Context) ([]wire.Device, error) {
	var out []wire.Device
	err := c.Do(ctx, http.MethodGet, wire.PathDevices, nil, &out)
	return out, err
}

// Grant asks for a session grant.
func (c *Client) Grant(ctx context.Context, req wire.GrantRequest) (wire.GrantResponse, error) {
	var out wire.GrantResponse
	err := c.Do(ctx, http.MethodPost, wire.PathGrant, req, &out)
	return out, err
}

// CreateToken asks for an enrollment token (admins only).
func (c *Client) CreateToken(ctx context.Context, req wire.TokenRequest) (wire.TokenResponse, error) {
	var out wire.TokenResponse
	err := c.Do(ctx, http.MethodPost, wire.PathTokens, req, &out)
	return out, err
}

// Inventory reports the device's inventory.
func (c *Client) Inventory(ctx context.Context, inv wire.Inventory) error {
	return c.Do(ctx, http.MethodPost, wire.PathInventory, inv, nil)
}

// Heartbeat reports that the device is alive.
func (c *Client) Heartbeat(ctx context.Context, hb wire.Heartbeat) error {
	return c.Do(ctx, http.MethodPost, wire.PathHeartbeat, hb, nil)
}

// Audit forwards a batch of the device's audit records.
func (c *Client) Audit(ctx context.Context, evs []wire.AuditEvent) error {
	return c.Do(ctx, http.MethodPost, wire.PathAgentAudit, evs, nil)
}

// CreateCode asks for a support code (technician).
func (c *Client) CreateCode(ctx context.Context, req wire.CodeRequest) (wire.SupportCode, error) {
	var out wire.SupportCode
	err := c.Do(ctx, http.MethodPost, wire.PathSupportCodes, req, &out)
	return out, err
}

// CancelCode withdraws a waiting code (technician).
func (c *Client) CancelCode(ctx context.Context, code string) error {
	return c.Do(ctx, http.MethodPost, wire.PathSupportCodes+"/"+url.PathEscape(code)+"/cancel", struct{}{}, nil)
}

// Redeem uses a code an end user read out (technician).
func (c *Client) Redeem(ctx context.Context, code string) (wire.SupportSession, error) {
	var out wire.SupportSession
	err := c.Do(ctx, http.MethodPost, wire.PathSupportRedeem, wire.RedeemRequest{Code: code}, &out)
	return out, err
}

// Board lists live codes and sessions (technician).
func (c *Client) Board(ctx context.Context) (wire.SupportBoard, error) {
	var out wire.SupportBoard
	err := c.Do(ctx, http.MethodGet, wire.PathSupportSessions, nil, &out)
	return out, err
}

// EndSession ends a support session (technician).
func (c *Client) EndSession(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodPost, wire.PathSupportSessions+"/"+url.PathEscape(id)+"/end", struct{}{}, nil)
}

// Join presents a code as a one-time support agent.
func (c *Client) Join(ctx context.Context, req wire.JoinRequest) (wire.JoinResponse, error) {
	var out wire.JoinResponse
	err := c.Do(ctx, http.MethodPost, wire.PathSupportJoin, req, &out)
	return out, err
}

// EndSupport ends the device's support session (device credentials).
func (c *Client) EndSupport(ctx context.Context, reason string) error {
	return c.Do(ctx, http.MethodPost, wire.PathSupportEnd, wire.EndRequest{Reason: reason}, nil)
}

// ReportOverlay tells the coordinator why the device's overlay node is not
// up (one of wire.OverlayReasons; "" once it is), so the technician's
// session row can say it (device credentials; it travels over HTTPS, not
// the overlay).
func (c *Client) ReportOverlay(ctx context.Context, reason string) error {
	return c.Do(ctx, http.MethodPost, wire.PathSupportOverlay, wire.OverlayReport{Reason: reason}, nil)
}

// AskForHelp asks for a code the user can read out (enrolled device).
func (c *Client) AskForHelp(ctx context.Context) (wire.SupportCode, error) {
	var out wire.SupportCode
	err := c.Do(ctx, http.MethodPost, wire.PathSupportAsk, struct{}{}, &out)
	return out, err
}

// Presence holds the device's presence stream open, ticking every
// wire.PresenceEvery, until ctx ends or the stream breaks (then it returns
// the error; the caller reconnects). up, if not nil, is called once the
// coordinator has accepted the stream. Messages the coordinator sends are
// read and dropped; PresenceStream hands them to the caller.
func (c *Client) Presence(ctx context.Context, up func()) error {
	return c.PresenceStream(ctx, PresenceHandlers{Up: up})
}

// PresenceHandlers are what PresenceStream calls, each from the stream's
// own goroutine, one call at a time; nil ones are not called.
type PresenceHandlers struct {
	// Up is called once the coordinator has accepted the stream.
	Up func()
	// Message is called with each message of a type this version knows
	// (wire.PresenceMessage.Check passed), in order. The stream is not
	// read while it runs: it should be quick.
	Message func(wire.PresenceMessage)
	// Invalid is called with each line that is not a valid message; the
	// stream goes on.
	Invalid func(error)
}

// PresenceStream holds the device's presence stream open, ticking every
// wire.PresenceEvery, and decodes what the coordinator sends down it,
// until ctx ends or the stream breaks (then it returns the error; the
// caller reconnects).
func (c *Client) PresenceStream(ctx context.Context, h PresenceHandlers) error {
	pr, pw := io.Pipe()
	ticking := make(chan struct{})
	defer func() { <-ticking }() // last: the ticker has returned before Presence does
	defer pr.Close()             // unblocks the ticker's pending write whatever happened
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(ticking)
		t := time.NewTicker(wire.PresenceEvery)
		defer t.Stop()
		tick := []byte{wire.PresenceTick}
		for {
			if _, err := pw.Write(tick); err != nil {
				return
			}
			select {
			case <-ctx.Done():
				pw.CloseWithError(ctx.Err())
				return
			case <-t.C:
			}
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+wire.PathPresence, pr)
	if err != nil {
		return fmt.Errorf("coordclient: %w", err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", c.auth)
	hc := *c.hc
	hc.Timeout = 0 // the stream lives as long as the agent
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("coordclient: presence: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("coordclient: presence: %s", resp.Status)
	}
	if h.Up != nil {
		h.Up()
	}
	// The answer's body carries the coordinator's messages until either
	// side goes.
	dec := wire.NewPresenceDecoder(resp.Body)
	for {
		m, err := dec.Next()
		switch {
		case err == nil:
			if h.Message != nil {
				h.Message(m)
			}
		case errors.Is(err, wire.ErrBadPresenceMessage):
			if h.Invalid != nil {
				h.Invalid(err)
			}
		default:
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("coordclient: presence: %w", err)
		}
	}
}

// Wake asks how to wake an offline device: its relay, a grant for it and
// the request to send.
func (c *Client) Wake(ctx context.Context, ask wire.WakeAsk) (wire.WakePlan, error) {
	var out wire.WakePlan
	err := c.Do(ctx, http.MethodPost, wire.PathWake, ask, &out)
	return out, err
}

// maxAssistAnswer bounds one turn's answer as AssistChat reads it.
const maxAssistAnswer = 16 << 20

// AssistChat sends one turn of the help desk assistant's chat and calls
// on with each event of the answer as it arrives (one JSON object a line,
// read by wire.AssistDecoder: events of types it does not know are
// skipped), until the stream ends or on fails. A non-2xx answer is a
// *wire.Error; a malformed event (wire.ErrBadAssistEvent), a line cut
// short or an answer over 16 MiB ends the turn with an error.
func (c *Client) AssistChat(ctx context.Context, req wire.AssistRequest, on func(wire.AssistEvent) error) error {
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("coordclient: %w", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+wire.PathAssistChat, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("coordclient: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	if c.auth != "" {
		hreq.Header.Set("Authorization", c.auth)
	}
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return fmt.Errorf("coordclient: assist chat: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10)) // best effort: the status says enough
		var e wire.Error
		if json.Unmarshal(data, &e) != nil || e.Code == "" {
			e = wire.Error{Code: wire.CodeInternal, Message: resp.Status}
		}
		return &e
	}
	dec := wire.NewAssistDecoder(io.LimitReader(resp.Body, maxAssistAnswer))
	for {
		ev, err := dec.Next()
		if err == io.EOF {
			// A turn ends with exactly one final event; a stream that
			// ends without one was cut (the coordinator stopped, the link
			// dropped between lines) and is not an answer.
			return fmt.Errorf("coordclient: assist chat: %w", ErrAssistCut)
		} else if err != nil {
			return fmt.Errorf("coordclient: assist chat: %w", err)
		}
		if err := on(ev); err != nil {
			return err
		}
		if ev.Final() {
			return nil
		}
	}
}

// ErrAssistCut: the coordinator's answer ended before its final event.
var ErrAssistCut = errors.New("the answer was cut off before it ended")

// AssistRemedy asks the coordinator to re-check a remediation the user
// approved, or reports its outcome.
func (c *Client) AssistRemedy(ctx context.Context, r wire.AssistRemedy) (wire.AssistRemedyAnswer, error) {
	var out wire.AssistRemedyAnswer
	err := c.Do(ctx, http.MethodPost, wire.PathAssistRemedy, r, &out)
	return out, err
}

// FileTicket files a ticket for the device's user (device credentials).
// The coordinator files a given ticket ID once: sending it again after a
// lost answer returns the first filing's receipt, marked Duplicate.
func (c *Client) FileTicket(ctx context.Context, t wire.AgentTicket) (wire.AgentTicketReceipt, error) {
	var out wire.AgentTicketReceipt
	err := c.Do(ctx, http.MethodPost, wire.PathAgentTickets, t, &out)
	return out, err
}
