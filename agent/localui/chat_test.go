package localui

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/peerdesk/peerdesk/agent/assist"
	"github.com/peerdesk/peerdesk/agent/consent"
	"github.com/peerdesk/peerdesk/agent/remedy"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// helpDesk stands for the coordinator's assistant API: it answers "Hel",
// waits for release, answers "lo" and proposes clear_temp; down, it
// refuses every call.
type helpDesk struct {
	release  chan struct{}
	mu       sync.Mutex
	down     bool
	chats    int
	remedies []string // phase/tool of each AssistRemedy
}

func (d *helpDesk) AssistChat(ctx context.Context, req wire.AssistRequest, on func(wire.AssistEvent) error) error {
	d.mu.Lock()
	d.chats++
	down := d.down
	d.mu.Unlock()
	if down {
		return errors.New("connection refused")
	}
	on(wire.AssistEvent{Type: wire.AssistToken, Text: "Hel"}) //nolint:errcheck // the assistant's callback returns nil
	select {
	case <-d.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	on(wire.AssistEvent{Type: wire.AssistToken, Text: "lo"})                                                     //nolint:errcheck // as above
	on(wire.AssistEvent{Type: wire.AssistProposal, Tool: "clear_temp", Reason: "temporary files fill the disk"}) //nolint:errcheck // as above
	return nil
}

func (d *helpDesk) AssistRemedy(_ context.Context, r wire.AssistRemedy) (wire.AssistRemedyAnswer, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.remedies = append(d.remedies, r.Phase+"/"+r.Tool)
	return wire.AssistRemedyAnswer{Allowed: true}, nil
}

type memQueue struct {
	mu    sync.Mutex
	items []string
}

func (q *memQueue) Put(kind, id string, _ []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, kind+"/"+id)
	return nil
}

type chatEnv struct {
	u     *UI
	desk  *helpDesk
	queue *memQueue
	temp  string
	as    *assist.Assistant
}

func startChat(t *testing.T) *chatEnv {
	t.Helper()
	e := &chatEnv{desk: &helpDesk{release: make(chan struct{}, 1)}, queue: &memQueue{}, temp: t.TempDir()}
	for _, f := range []string{"a.tmp", "b.tmp"} {
		if err := os.WriteFile(filepath.Join(e.temp, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	as, err := assist.New(assist.Config{
		Coordinator: e.desk, DeviceID: "dev-1", Dir: t.TempDir(), Remedy: remedy.Env{TempDir: e.temp},
		Run:   func(context.Context, []string) ([]byte, error) { return nil, errors.New("no commands here") },
		Queue: e.queue, Audit: func(wire.AuditEvent) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.as = as
	u, err := Start(Config{Hostname: "pc-1", Consent: consent.New(consent.Config{Ask: policy.AttendedConsent}), Assistant: as, Contacts: "call 555-0100"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	e.u = u
	return e
}

func (e *chatEnv) browser(t *testing.T) (*http.Client, string) {
	return (&env{u: e.u}).browser(t)
}

// postJSON posts v to the page's action as chat.js does (same origin,
// application/json) with header changes h, and returns the response.
func postJSON(t *testing.T, c *http.Client, page, action string, v any, h http.Header) *http.Response {
	t.Helper()
	u, err := url.Parse(page)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v) //nolint:errcheck // test values encode
	req, err := http.NewRequest("POST", u.Scheme+"://"+u.Host+action, strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", u.Scheme+"://"+u.Host)
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// The chat's posts are refused without the page's cookie, from another
// site, and as a form (what a cross-site page can send without a
// preflight): nothing reaches the help desk.
func TestChatRefusals(t *testing.T) {
	leak.Check(t)
	e := startChat(t)
	c, page := e.browser(t)
	send := e.u.base + "chat/send"
	msg := map[string]string{"text": "my disk is slow"}
	if r := postJSON(t, http.DefaultClient, page, send, msg, nil); r.StatusCode != http.StatusForbidden {
		t.Errorf("without the cookie: %s", r.Status)
	}
	if r, err := http.Get(page + "chat"); err != nil || r.StatusCode != http.StatusForbidden {
		t.Errorf("the chat page without the cookie: %v, %v", r, err)
	} else {
		r.Body.Close()
	}
	for _, h := range []http.Header{
		{"Origin": {"http://attacker.example"}},
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Content-Type": {"application/x-www-form-urlencoded"}},
		{"Content-Type": {"text/plain"}},
	} {
		for _, action := range []string{send, e.u.base + "chat/approve", e.u.base + "chat/decline"} {
			// Refused for what the request is (403 another site, 415 not
			// JSON), before any proposal is looked up (that would be 404).
			if r := postJSON(t, c, page, action, msg, h); r.StatusCode != http.StatusForbidden && r.StatusCode != http.StatusUnsupportedMediaType {
				t.Errorf("%s with %v: %s", action, h, r.Status)
			}
		}
	}
	if r := postJSON(t, http.DefaultClient, page, e.u.base+"chat/decline", map[string]string{"id": "p1"}, nil); r.StatusCode != http.StatusForbidden {
		t.Errorf("a decline without the cookie: %s", r.Status)
	}
	e.desk.mu.Lock()
	n := e.desk.chats
	e.desk.mu.Unlock()
	if n != 0 || len(e.as.History()) != 0 {
		t.Errorf("refused posts reached the assistant: %d chats, history %v", n, e.as.History())
	}
}

// The main page links to the chat by the persona's name; the answer
// streams (the first token arrives while the help desk is still
// answering); the proposal says exactly what will run, and Approve runs
// only an open proposal's id, once.
func TestChatStreamsAndApproves(t *testing.T) {
	leak.Check(t)
	e := startChat(t)
	c, page := e.browser(t)
	name := wire.AssistPersona("dev-1")
	if body := get(t, c, page); !strings.Contains(body, `href="`+e.u.base+`chat"`) || !strings.Contains(body, "Ask "+name) {
		t.Fatalf("no link to the chat on the main page:\n%s", body)
	}
	r := postJSON(t, c, page, e.u.base+"chat/send", map[string]string{"text": "my disk is slow"}, nil)
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("send: %s %s", r.Status, r.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(r.Body)
	next := func() assist.Event {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("the stream ended: %v", lines.Err())
		}
		var ev assist.Event
		if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
			t.Fatalf("line %q: %v", lines.Text(), err)
		}
		return ev
	}
	// The help desk has not finished: the first token is already here.
	if ev := next(); ev.Type != wire.AssistToken || ev.Text != "Hel" {
		t.Fatalf("first event %+v", ev)
	}
	e.desk.release <- struct{}{}
	if ev := next(); ev.Type != wire.AssistToken || ev.Text != "lo" {
		t.Fatalf("second event %+v", ev)
	}
	prop := next()
	if prop.Type != wire.AssistProposal || prop.ID == "" || prop.Command != "delete the files and folders inside "+e.temp {
		t.Fatalf("proposal %+v", prop)
	}
	if ev := next(); ev.Type != wire.AssistDone {
		t.Fatalf("last event %+v", ev)
	}
	if rest, _ := io.ReadAll(r.Body); len(rest) != 0 {
		t.Errorf("after done: %q", rest)
	}
	if body := get(t, c, page+"chat"); !strings.Contains(body, "Ask "+name) || !strings.Contains(body, "my disk is slow") || !strings.Contains(body, "Hello") {
		t.Errorf("the chat page lacks the persona or the history:\n%s", body)
	}

	approve := func(id string) (int, assist.Event) {
		r := postJSON(t, c, page, e.u.base+"chat/approve", map[string]string{"id": id}, nil)
		var ev assist.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Fatal(err)
		}
		return r.StatusCode, ev
	}
	if code, ev := approve("not-" + prop.ID); code != http.StatusNotFound || ev.Type != "error" {
		t.Errorf("approving an unknown id: %d %+v", code, ev)
	}
	if ents, _ := os.ReadDir(e.temp); len(ents) != 2 {
		t.Fatalf("an unknown id ran the fix: %v", ents)
	}
	if code, ev := approve(prop.ID); code != http.StatusOK || ev.Type != "ran" || !strings.Contains(ev.Text, "removed 2 entries") {
		t.Errorf("approving: %d %+v", code, ev)
	}
	if ents, _ := os.ReadDir(e.temp); len(ents) != 0 {
		t.Errorf("after approval: %v", ents)
	}
	if code, _ := approve(prop.ID); code != http.StatusNotFound {
		t.Errorf("approved twice: %d", code)
	}
}

// Offline: the friendly answer with the shop's contacts, and the message
// is queued.
func TestChatOffline(t *testing.T) {
	leak.Check(t)
	e := startChat(t)
	e.desk.down = true
	c, page := e.browser(t)
	r := postJSON(t, c, page, e.u.base+"chat/send", map[string]string{"text": "hello?"}, nil)
	var evs []assist.Event
	dec := json.NewDecoder(r.Body)
	for {
		var ev assist.Event
		if err := dec.Decode(&ev); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if len(evs) != 1 || evs[0].Type != wire.AssistUnavailable || evs[0].Text != assist.Offline {
		t.Errorf("events %+v", evs)
	}
	e.queue.mu.Lock()
	defer e.queue.mu.Unlock()
	if len(e.queue.items) != 1 || !strings.HasPrefix(e.queue.items[0], assist.QueueKind+"/") {
		t.Errorf("queued %v", e.queue.items)
	}
}

// A declined proposal is closed at once: Decline answers "declined", the
// help desk is told (phase declined), and approving it afterwards runs
// nothing (404), as does declining it again.
func TestChatDecline(t *testing.T) {
	leak.Check(t)
	e := startChat(t)
	e.desk.release <- struct{}{}
	c, page := e.browser(t)
	r := postJSON(t, c, page, e.u.base+"chat/send", map[string]string{"text": "my disk is slow"}, nil)
	var prop assist.Event
	dec := json.NewDecoder(r.Body)
	for {
		var ev assist.Event
		if err := dec.Decode(&ev); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if ev.Type == wire.AssistProposal {
			prop = ev
		}
	}
	if prop.ID == "" {
		t.Fatal("no proposal")
	}
	call := func(action, id string) (int, assist.Event) {
		t.Helper()
		r := postJSON(t, c, page, e.u.base+"chat/"+action, map[string]string{"id": id}, nil)
		var ev assist.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Fatal(err)
		}
		return r.StatusCode, ev
	}
	if code, ev := call("decline", "not-"+prop.ID); code != http.StatusNotFound || ev.Type != "error" {
		t.Errorf("declining an unknown id: %d %+v", code, ev)
	}
	if code, ev := call("decline", prop.ID); code != http.StatusOK || ev.Type != "declined" || ev.ID != prop.ID {
		t.Fatalf("declining: %d %+v", code, ev)
	}
	e.desk.mu.Lock()
	told := slices.Clone(e.desk.remedies)
	e.desk.mu.Unlock()
	if want := []string{wire.RemedyDeclined + "/clear_temp"}; !slices.Equal(told, want) {
		t.Errorf("the help desk was told %v, want %v", told, want)
	}
	if code, ev := call("approve", prop.ID); code != http.StatusNotFound || ev.Type != "error" {
		t.Errorf("approving a declined fix: %d %+v", code, ev)
	}
	if ents, _ := os.ReadDir(e.temp); len(ents) != 2 {
		t.Errorf("a declined fix ran: %v", ents)
	}
	if code, _ := call("decline", prop.ID); code != http.StatusNotFound {
		t.Errorf("declined twice: %d", code)
	}
}
