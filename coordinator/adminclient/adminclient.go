// Package adminclient talks to a running coordinator's local administration
// socket. It is what `peerdesk admin …` uses; only the coordinator's own OS
// user on the coordinator's machine can connect. It speaks the wire
// package's local protocol and links no server code (deps_test.go).
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

// Client is connected to one socket.
type Client struct{ hc *http.Client }

// New returns a client for the socket at path.
func New(path string) *Client {
	return &Client{hc: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}},
	}}
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://coordinator"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("is the coordinator running? %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e wire.Error
		if json.Unmarshal(data, &e) != nil || e.Code == "" {
			return fmt.Errorf("coordinator: %s", resp.Status)
		}
		return &e
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// AddUser creates an account.
func (c *Client) AddUser(ctx context.Context, name, password, role string, companies ...string) error {
	return c.do(ctx, http.MethodPost, wire.LocalPathUsers, wire.LocalUserRequest{Name: name, Password: password, Role: role, Companies: companies}, nil)
}

// CreateToken mints an enrollment token.
func (c *Client) CreateToken(ctx context.Context, ttl time.Duration, note string) (wire.TokenResponse, error) {
	return c.CreateTokenFor(ctx, wire.TokenRequest{TTL: wire.Duration(ttl), Note: note})
}

// CreateTokenFor mints an enrollment token as req says, including the
// company and site the device enrolling with it is filed under (M6).
func (c *Client) CreateTokenFor(ctx context.Context, req wire.TokenRequest) (wire.TokenResponse, error) {
	var out wire.TokenResponse
	err := c.do(ctx, http.MethodPost, wire.LocalPathTokens, req, &out)
	return out, err
}

// Status describes the running coordinator.
func (c *Client) Status(ctx context.Context) (wire.LocalStatus, error) {
	var out wire.LocalStatus
	err := c.do(ctx, http.MethodGet, wire.LocalPathStatus, nil, &out)
	return out, err
}

// Audit lists audit records matching action and outcome ("" matches all).
func (c *Client) Audit(ctx context.Context, action, outcome string) ([]wire.AuditRecord, error) {
	q := url.Values{}
	if action != "" {
		q.Set("action", action)
	}
	if outcome != "" {
		q.Set("outcome", outcome)
	}
	q.Set("limit", "10000")
	var out []wire.AuditRecord
	err := c.do(ctx, http.MethodGet, wire.LocalPathAudit+"?"+q.Encode(), nil, &out)
	return out, err
}

// AuditVerify asks the coordinator to verify its audit chain.
func (c *Client) AuditVerify(ctx context.Context) (wire.AuditVerifyResult, error) {
	var out wire.AuditVerifyResult
	err := c.do(ctx, http.MethodGet, wire.LocalPathAuditVerify, nil, &out)
	return out, err
}

// AuditExport streams the audit trail to w as format (wire.AuditFormatCSV
// or wire.AuditFormatJSON), only records whose time is not before since
// (zero: all). It has no overall timeout (a long trail takes a while);
// ctx bounds it.
func (c *Client) AuditExport(ctx context.Context, w io.Writer, format string, since time.Time) error {
	q := url.Values{"format": {format}}
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://coordinator"+wire.LocalPathAuditExport+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	hc := *c.hc
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("is the coordinator running? %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10)) // the error body; a failed read leaves the status to report
		var e wire.Error
		if json.Unmarshal(data, &e) != nil || e.Code == "" {
			return fmt.Errorf("coordinator: %s", resp.Status)
		}
		return &e
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("reading the export: %w", err)
	}
	if msg := resp.Trailer.Get(wire.TrailerAuditExportError); msg != "" {
		return fmt.Errorf("coordinator: %s", msg)
	}
	return nil
}

// Users lists every account.
func (c *Client) Users(ctx context.Context) ([]wire.UserInfo, error) {
	var out []wire.UserInfo
	err := c.do(ctx, http.MethodGet, wire.LocalPathUsers, nil, &out)
	return out, err
}

// UserAction takes one administrative action on an account (wire.User…).
func (c *Client) UserAction(ctx context.Context, a wire.LocalUserAction) error {
	return c.do(ctx, http.MethodPost, wire.LocalPathUserAction, a, nil)
}

// Devices lists every device, the removed ones included.
func (c *Client) Devices(ctx context.Context) ([]wire.AdminDevice, error) {
	var out []wire.AdminDevice
	err := c.do(ctx, http.MethodGet, wire.LocalPathDevices, nil, &out)
	return out, err
}

// DeviceAction takes one administrative action on a device (wire.Device…).
func (c *Client) DeviceAction(ctx context.Context, a wire.LocalDeviceAction) error {
	return c.do(ctx, http.MethodPost, wire.LocalPathDeviceAction, a, nil)
}
