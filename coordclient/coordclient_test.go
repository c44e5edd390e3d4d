package coordclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/coordinator/pki"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/wire"
)

// seen is what the server saw of one request.
type seen struct {
	Method, Path, Auth, ContentType, Body string
}

// coordinator is a TLS server under its own CA that records requests and
// answers with answer.
type coordinator struct {
	id  *pki.Identity
	url string

	mu       sync.Mutex
	requests []seen
}

func newCoordinator(t *testing.T, answer http.HandlerFunc) *coordinator {
	t.Helper()
	id, err := pki.LoadOrCreate(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := &coordinator{id: id}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.requests = append(c.requests, seen{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)})
		c.mu.Unlock()
		answer(w, r)
	}))
	srv.TLS = id.TLSConfig()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

func (c *coordinator) seen() []seen {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]seen(nil), c.requests...)
}

func answer(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestDoDecodesJSON(t *testing.T) {
	leak.Check(t)
	want := wire.TokenResponse{Token: "pde1-x", Expires: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	coord := newCoordinator(t, answer(http.StatusOK, "application/json", string(b)))
	c := coordclient.New(coord.url+"/", coord.id.CA) // a trailing slash is tolerated
	if c.URL() != coord.url {
		t.Errorf("URL() = %q, want %q", c.URL(), coord.url)
	}

	var got wire.TokenResponse
	if err := c.Do(context.Background(), http.MethodPost, wire.PathTokens, wire.TokenRequest{Note: "desk"}, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	// No body, no Content-Type; a nil out ignores the answer.
	if err := c.Do(context.Background(), http.MethodGet, wire.PathDevices, nil, nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]seen{
		{"POST", wire.PathTokens, "", "application/json", `{"note":"desk"}`},
		{"GET", wire.PathDevices, "", "", ""},
	}, coord.seen()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestDoNoContent(t *testing.T) {
	leak.Check(t)
	coord := newCoordinator(t, answer(http.StatusNoContent, "", ""))
	c := coordclient.New(coord.url, coord.id.CA)
	var out wire.Device
	if err := c.Do(context.Background(), http.MethodPost, wire.PathHeartbeat, wire.Heartbeat{}, &out); err != nil {
		t.Fatalf("204 = %v", err)
	}
	if diff := cmp.Diff(wire.Device{}, out); diff != "" {
		t.Errorf("out changed by an empty answer:\n%s", diff)
	}
}

func TestDoErrors(t *testing.T) {
	leak.Check(t)
	for _, tc := range []struct {
		name   string
		answer http.HandlerFunc
		want   wire.Error
	}{
		{"wire error", answer(http.StatusForbidden, "application/json", `{"code":"forbidden","message":"policy: forbidden"}`),
			wire.Error{Code: wire.CodeForbidden, Message: "policy: forbidden"}},
		{"wire error on 409", answer(http.StatusConflict, "application/json", `{"code":"conflict","message":"already enrolled"}`),
			wire.Error{Code: wire.CodeConflict, Message: "already enrolled"}},
		{"plain text", answer(http.StatusBadGateway, "text/plain", "upstream down"),
			wire.Error{Code: wire.CodeInternal, Message: "502 Bad Gateway"}},
		{"html", answer(http.StatusNotFound, "text/html", "<html>404</html>"),
			wire.Error{Code: wire.CodeInternal, Message: "404 Not Found"}},
		{"JSON without a code", answer(http.StatusUnauthorized, "application/json", `{"error":"nope"}`),
			wire.Error{Code: wire.CodeInternal, Message: "401 Unauthorized"}},
		{"empty body", answer(http.StatusServiceUnavailable, "", ""),
			wire.Error{Code: wire.CodeInternal, Message: "503 Service Unavailable"}},
		{"redirect", answer(http.StatusNotModified, "", ""),
			wire.Error{Code: wire.CodeInternal, Message: "304 Not Modified"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			coord := newCoordinator(t, tc.answer)
			c := coordclient.New(coord.url, coord.id.CA)
			out := wire.Device{ID: "untouched"}
			err := c.Do(context.Background(), http.MethodGet, wire.PathDevices, nil, &out)
			var we *wire.Error
			if !errors.As(err, &we) {
				t.Fatalf("Do = %v (%T), want a *wire.Error", err, err)
			}
			if diff := cmp.Diff(tc.want, *we); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if got := coordclient.Code(err); got != tc.want.Code {
				t.Errorf("Code = %q, want %q", got, tc.want.Code)
			}
			if out.ID != "untouched" {
				t.Errorf("an error answer was decoded into out: %+v", out)
			}
		})
	}
}

func TestDoBadAnswer(t *testing.T) {
	leak.Check(t)
	coord := newCoordinator(t, answer(http.StatusOK, "application/json", `{"id":`))
	c := coordclient.New(coord.url, coord.id.CA)
	var out wire.Device
	err := c.Do(context.Background(), http.MethodGet, wire.PathDevices, nil, &out)
	if err == nil {
		t.Fatal("Do accepted a truncated JSON answer")
	}
	if code := coordclient.Code(err); code != "" {
		t.Errorf("a decoding failure looks like a coordinator error %q", code)
	}
}

func TestDoRefusesUntrustedServer(t *testing.T) {
	leak.Check(t)
	coord := newCoordinator(t, answer(http.StatusOK, "application/json", `{}`))
	other := newCoordinator(t, answer(http.StatusOK, "application/json", `{}`))
	c := coordclient.New(coord.url, other.id.CA) // trusts another coordinator's CA
	err := c.WithSession("secret-session").Do(context.Background(), http.MethodGet, wire.PathDevices, nil, nil)
	if err == nil {
		t.Fatal("Do trusted a server of another CA")
	}
	if code := coordclient.Code(err); code != "" {
		t.Errorf("a TLS failure looks like a coordinator error %q", code)
	}
	if n := len(coord.seen()); n != 0 {
		t.Fatalf("the untrusted server received %d requests (and the credentials)", n)
	}
}

func TestDoCanceled(t *testing.T) {
	leak.Check(t)
	coord := newCoordinator(t, answer(http.StatusOK, "application/json", `{}`))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := coordclient.New(coord.url, coord.id.CA).Do(ctx, http.MethodGet, wire.PathDevices, nil, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Do with a canceled context = %v", err)
	}
}

func TestAuthorizationHeader(t *testing.T) {
	leak.Check(t)
	coord := newCoordinator(t, answer(http.StatusNoContent, "", ""))
	base := coordclient.New(coord.url, coord.id.CA)
	dev := base.WithDevice("dev-0123456789abcdef", "s3cr3t")
	tech := base.WithSession("tok")
	ctx := context.Background()
	for _, c := range []*coordclient.Client{base, dev, tech, dev.WithSession("tok2")} {
		if err := c.Do(ctx, http.MethodPost, wire.PathHeartbeat, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, s := range coord.seen() {
		got = append(got, s.Auth)
	}
	if diff := cmp.Diff([]string{"", "Device dev-0123456789abcdef:s3cr3t", "Bearer tok", "Bearer tok2"}, got); diff != "" {
		t.Fatalf("Authorization headers (-want +got):\n%s", diff)
	}
}

// The typed helpers call the right method and path with the right body.
func TestHelpers(t *testing.T) {
	leak.Check(t)
	coord := newCoordinator(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			io.WriteString(w, `[{"id":"dev-1"}]`)
			return
		}
		io.WriteString(w, `{}`)
	})
	c := coordclient.New(coord.url, coord.id.CA).WithSession("tok")
	ctx := context.Background()
	devs, err := c.Devices(ctx)
	if err != nil || len(devs) != 1 || devs[0].ID != "dev-1" {
		t.Fatalf("Devices = %+v, %v", devs, err)
	}
	for _, call := range []func() error{
		func() error { _, err := c.Enroll(ctx, wire.EnrollRequest{Token: "t"}); return err },
		func() error { _, err := c.Login(ctx, "alice", "pw"); return err },
		func() error {
			_, err := c.Grant(ctx, wire.GrantRequest{DeviceID: "d", Capabilities: []wire.Capability{wire.CapSysInfo}})
			return err
		},
		func() error { _, err := c.CreateToken(ctx, wire.TokenRequest{}); return err },
		func() error { return c.Inventory(ctx, wire.Inventory{Hostname: "pc-1"}) },
		func() error { return c.Heartbeat(ctx, wire.Heartbeat{AgentVersion: "1"}) },
		func() error { return c.Audit(ctx, []wire.AuditEvent{{Action: "a"}}) },
	} {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}
	var got []seen
	for _, s := range coord.seen() {
		s.Auth, s.ContentType = "", ""
		got = append(got, s)
	}
	want := []seen{
		{Method: "GET", Path: wire.PathDevices},
		{Method: "POST", Path: wire.PathEnroll, Body: `{"token":"t","machine_id":"","hostname":"","os":""}`},
		{Method: "POST", Path: wire.PathLogin, Body: `{"username":"alice","password":"pw"}`},
		{Method: "POST", Path: wire.PathGrant, Body: `{"device_id":"d","node_key":"","capabilities":["sysinfo"]}`},
		{Method: "POST", Path: wire.PathTokens, Body: `{}`},
		{Method: "POST", Path: wire.PathInventory, Body: string(mustJSON(t, wire.Inventory{Hostname: "pc-1"}))},
		{Method: "POST", Path: wire.PathHeartbeat, Body: `{"agent_version":"1","uptime":"0s","sent":"0001-01-01T00:00:00Z"}`},
		{Method: "POST", Path: wire.PathAgentAudit, Body: `[{"time":"0001-01-01T00:00:00Z","actor":"","action":"a","target":"","outcome":""}]`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("requests (-want +got):\n%s", diff)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// AssistChat reads the answer through wire.AssistDecoder: events arrive
// in order, a later version's type is skipped, and a malformed event or a
// line cut short ends the turn with an error after what came before it.
func TestAssistChatStream(t *testing.T) {
	leak.Check(t)
	for _, tc := range []struct {
		name, body string
		want       []string
		bad        error
	}{
		{"whole", `{"type":"token","text":"Hi"}` + "\n" + `{"type":"later"}` + "\n" + `{"type":"proposal","tool":"clear_temp"}` + "\n" + `{"type":"done"}` + "\n",
			[]string{"token", "proposal", "done"}, nil},
		{"malformed", `{"type":"token","text":"Hi"}` + "\n" + `{"type":"diagnostic","tool":"disk"}` + "\n" + `{"type":"done"}` + "\n",
			[]string{"token"}, wire.ErrBadAssistEvent},
		{"cut", `{"type":"token","text":"Hi"}` + "\n" + `{"type":"do`, []string{"token"}, io.ErrUnexpectedEOF},
		{"cut between lines", `{"type":"token","text":"Hi"}` + "\n", []string{"token"}, coordclient.ErrAssistCut},
		{"nothing", "", nil, coordclient.ErrAssistCut},
		{"after the final event", `{"type":"token","text":"Hi"}` + "\n" + `{"type":"unavailable","text":"later"}` + "\n" + `{"type":"token","text":"more"}` + "\n",
			[]string{"token", "unavailable"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			coord := newCoordinator(t, answer(http.StatusOK, "application/x-ndjson", tc.body))
			c := coordclient.New(coord.url, coord.id.CA)
			var got []string
			err := c.AssistChat(context.Background(), wire.AssistRequest{ID: "m1", Text: "hello"}, func(ev wire.AssistEvent) error {
				got = append(got, ev.Type)
				return nil
			})
			if !errors.Is(err, tc.bad) || (tc.bad == nil) != (err == nil) {
				t.Errorf("AssistChat: %v, want %v", err, tc.bad)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}
