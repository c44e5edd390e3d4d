package services

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/agent/services/systemdtest"
	"github.com/peerdesk/peerdesk/grant"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/wire"
)

// These run against the fake systemd of package systemdtest on a private
// dbus-daemon: this machine has no systemd as PID 1.

func fake(t *testing.T) *systemdtest.Bus {
	return systemdtest.Start(t,
		systemdtest.Unit{Name: "cron.service", Description: "Regular background program processing daemon", Active: true, FileState: "enabled"},
		systemdtest.Unit{Name: "demo.service", Description: "Demo", FileState: "disabled"},
		systemdtest.Unit{Name: "broken.service", Description: "Broken", FileState: "static", Fail: true},
	)
}

func TestSystemdList(t *testing.T) {
	leak.Check(t)
	b := fake(t)
	list, err := (&Systemd{Address: b.Address()}).List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []wire.Service{
		{Name: "broken.service", Description: "Broken", State: "failed", SubState: "failed", Enabled: "static"},
		{Name: "cron.service", Description: "Regular background program processing daemon", State: "active", SubState: "running", Enabled: "enabled"},
		{Name: "demo.service", Description: "Demo", State: "inactive", SubState: "dead", Enabled: "disabled"},
	}
	if d := cmp.Diff(want, list); d != "" {
		t.Errorf("list (-want +got):\n%s", d)
	}
}

func TestSystemdActions(t *testing.T) {
	leak.Check(t)
	b := fake(t)
	m := &Systemd{Address: b.Address()}
	ctx := context.Background()
	for _, step := range []struct {
		name, action string
		active       bool
	}{{"demo.service", wire.ServiceStart, true}, {"demo", wire.ServiceRestart, true}, {"demo.service", wire.ServiceStop, false}} {
		job, err := m.Do(ctx, step.name, step.action)
		if err != nil {
			t.Fatalf("%s %s: %v", step.action, step.name, err)
		}
		if !strings.HasPrefix(job, "/org/freedesktop/systemd1/job/") {
			t.Errorf("job %q", job)
		}
		if b.Active("demo.service") != step.active {
			t.Errorf("after %s: active=%v", step.action, !step.active)
		}
		s, err := m.Get(ctx, "demo.service")
		if err != nil || (s.State == "active") != step.active {
			t.Errorf("after %s: %+v %v", step.action, s, err)
		}
	}
	if d := cmp.Diff([]string{"StartUnit demo.service", "RestartUnit demo.service", "StopUnit demo.service"}, b.Calls()); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	if _, err := m.Do(ctx, "broken.service", wire.ServiceRestart); !errors.Is(err, ErrFailed) {
		t.Errorf("a failing job: %v, want ErrFailed", err)
	}
	if _, err := m.Do(ctx, "nothere.service", wire.ServiceStart); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown unit: %v, want ErrNotFound", err)
	}
	if _, err := m.Get(ctx, "nothere.service"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown unit: %v, want ErrNotFound", err)
	}
}

type records struct {
	mu   sync.Mutex
	evs  []wire.AuditEvent
	fail error
}

func (r *records) Record(ev wire.AuditEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.evs = append(r.evs, ev)
	return nil
}

func TestHandler(t *testing.T) {
	leak.Check(t)
	b := fake(t)
	rec := &records{}
	h := &Handler{Manager: &Systemd{Address: b.Address()}, Device: "dev1", Audit: rec}
	c := gate.Caller{Technician: "tina", Node: node.Identity{NodeKey: "nk"}, Grant: grant.Grant{ID: "g"}}
	do := func(method, path, body string) (int, string) {
		rr := httptest.NewRecorder()
		h.ServePeer(rr, httptest.NewRequest(method, path, strings.NewReader(body)), c)
		return rr.Code, rr.Body.String()
	}
	code, body := do("GET", wire.PeerPathServices, "")
	var l wire.ServiceList
	if code != 200 || json.Unmarshal([]byte(body), &l) != nil || len(l.Services) != 3 {
		t.Fatalf("list: %d %s", code, body)
	}
	for _, bad := range []string{`{"name":"cron.service","action":"mask"}`, `{"name":"../x","action":"stop"}`, `{"name":"--all","action":"stop"}`,
		`{"name":"cron.service","action":"stop","extra":1}`, `{}`} {
		if code, body := do("POST", wire.PeerPathServiceDo, bad); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", bad, code, body)
		}
	}
	if code, body := do("POST", wire.PeerPathServiceDo, `{"name":"nothere.service","action":"stop"}`); code != http.StatusNotFound {
		t.Errorf("unknown service: %d %s", code, body)
	}
	code, body = do("POST", wire.PeerPathServiceDo, `{"name":"cron.service","action":"restart"}`)
	var res wire.ServiceResult
	if code != 200 || json.Unmarshal([]byte(body), &res) != nil || res.Service.State != "active" || res.Job == "" {
		t.Fatalf("restart: %d %s", code, body)
	}
	if code, body := do("POST", wire.PeerPathServiceDo, `{"name":"broken.service","action":"start"}`); code != http.StatusConflict {
		t.Errorf("failing start: %d %s", code, body)
	}
	rec.mu.Lock()
	var got []string
	for _, ev := range rec.evs {
		got = append(got, ev.Action+" "+ev.Fields["service"]+" "+ev.Outcome+" "+ev.Actor+" "+ev.Target)
	}
	rec.fail = errors.New("disk full")
	rec.mu.Unlock()
	want := []string{"services.restart cron.service ok tina dev1", "services.start broken.service ok tina dev1", "services.start broken.service failed tina dev1"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("audit (-want +got):\n%s", d)
	}
	// Not recorded, not done.
	if code, body := do("POST", wire.PeerPathServiceDo, `{"name":"cron.service","action":"stop"}`); code != http.StatusServiceUnavailable {
		t.Errorf("unaudited stop: %d %s", code, body)
	}
	if slices.Contains(b.Calls(), "StopUnit cron.service") || !b.Active("cron.service") {
		t.Errorf("an unaudited stop reached systemd: %v", b.Calls())
	}
}
