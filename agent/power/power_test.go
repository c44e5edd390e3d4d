package power

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/wire"
)

// recorder is a Runner that runs nothing and writes down what it was asked.
type recorder struct {
	did       []string
	fail      map[string]error // by step text
	safeMode  bool             // answer to the Safe Mode probe
	probed    int
	beforeRun func(step string) // called before each step is recorded
}

func (r *recorder) step(s string) error {
	if r.beforeRun != nil {
		r.beforeRun(s)
	}
	r.did = append(r.did, s)
	return r.fail[s]
}

func (r *recorder) Run(_ context.Context, argv []string) error {
	return r.step(strings.Join(argv, " "))
}
func (r *recorder) Registry(_ context.Context, c RegChange) error { return r.step(c.String()) }
func (r *recorder) RegistryValueExists(key, name string) (bool, error) {
	r.probed++
	if key != SafeBootOption || name != "OptionValue" {
		return false, errors.New("probed the wrong value: " + key + " " + name)
	}
	return r.safeMode, nil
}

func steps(ss []Step) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.String())
	}
	return out
}

const (
	setMinimal   = "bcdedit /set {current} safeboot minimal"
	setNetwork   = "bcdedit /set {current} safeboot network"
	setAltShell  = "bcdedit /set {current} safebootalternateshell yes"
	delSafeboot  = "bcdedit /deletevalue {current} safeboot"
	delAltShell  = "bcdedit /deletevalue {current} safebootalternateshell"
	winReboot    = "shutdown /r /t 0"
	winEmergency = "shutdown /r /f /t 0"
)

func TestPlanFor(t *testing.T) {
	winRevert := []string{delSafeboot, delAltShell}
	for _, tc := range []struct {
		goos      string
		req       wire.PowerRequest
		want      []string // Result().Steps: preparation, then the reboot
		revert    []string
		keep, clr bool
		err       error
	}{
		{goos: "windows", req: wire.PowerRequest{Action: wire.PowerReboot}, want: []string{winReboot}},
		{goos: "windows", req: wire.PowerRequest{Action: wire.PowerRebootEmergency, Confirm: true}, want: []string{winEmergency}},
		{goos: "windows", req: wire.PowerRequest{Action: wire.PowerRebootEmergency}, err: ErrNotConfirmed},
		{goos: "windows", req: wire.PowerRequest{Action: wire.PowerSafeMinimal}, want: []string{setMinimal, delAltShell, winReboot}, revert: winRevert, clr: true},
		{goos: "windows", req: wire.PowerRequest{Action: wire.PowerSafeNetwork, KeepSafeMode: true}, want: []string{setNetwork, delAltShell, winReboot}, revert: winRevert, keep: true},
		{goos: "windows", req: wire.PowerRequest{Action: wire.PowerSafeCommand}, want: []string{setMinimal, setAltShell, winReboot}, revert: winRevert, clr: true},
		{goos: "windows", req: wire.PowerRequest{Action: wire.PowerNormal}, want: []string{delSafeboot, delAltShell, winReboot}, clr: true},
		{goos: "windows", req: wire.PowerRequest{Action: wire.PowerRescue}, err: errors.ErrUnsupported},
		{goos: "windows", req: wire.PowerRequest{Action: wire.PowerReboot, KeepSafeMode: true}, err: ErrInvalid},
		{goos: "windows", req: wire.PowerRequest{Action: "shutdown"}, err: ErrInvalid},
		{goos: "linux", req: wire.PowerRequest{Action: wire.PowerReboot}, want: []string{"systemctl reboot"}},
		{goos: "linux", req: wire.PowerRequest{Action: wire.PowerRebootEmergency, Confirm: true}, want: []string{"systemctl reboot --force"}},
		{goos: "linux", req: wire.PowerRequest{Action: wire.PowerRebootEmergency}, err: ErrNotConfirmed},
		{goos: "linux", req: wire.PowerRequest{Action: wire.PowerRescue}, err: ErrRescue},
		{goos: "linux", req: wire.PowerRequest{Action: wire.PowerSafeMinimal}, err: errors.ErrUnsupported},
		{goos: "linux", req: wire.PowerRequest{Action: wire.PowerSafeNetwork}, err: errors.ErrUnsupported},
		{goos: "linux", req: wire.PowerRequest{Action: wire.PowerSafeCommand}, err: errors.ErrUnsupported},
		{goos: "linux", req: wire.PowerRequest{Action: wire.PowerNormal}, err: errors.ErrUnsupported},
		{goos: "darwin", req: wire.PowerRequest{Action: wire.PowerReboot}, err: errors.ErrUnsupported},
	} {
		name := tc.goos + "/" + string(tc.req.Action)
		p, err := PlanFor(tc.goos, tc.req)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: err %v, want %v", name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if d := cmp.Diff(tc.want, p.Result().Steps); d != "" {
			t.Errorf("%s: steps (-want +got):\n%s", name, d)
		}
		if d := cmp.Diff(tc.revert, steps(p.Revert)); d != "" {
			t.Errorf("%s: revert (-want +got):\n%s", name, d)
		}
		if p.Keep != tc.keep || p.Clear != tc.clr {
			t.Errorf("%s: keep %v clear %v, want %v %v", name, p.Keep, p.Clear, tc.keep, tc.clr)
		}
	}
	if !errors.Is(ErrRescue, errors.ErrUnsupported) {
		t.Error("ErrRescue does not wrap errors.ErrUnsupported")
	}
}

func TestSafeBootRegistration(t *testing.T) {
	want := []string{
		`registry: set HKLM\SYSTEM\CurrentControlSet\Control\SafeBoot\Minimal\peerdesk-agent \ (default) = "Service"`,
		`registry: set HKLM\SYSTEM\CurrentControlSet\Control\SafeBoot\Network\peerdesk-agent \ (default) = "Service"`,
	}
	if d := cmp.Diff(want, steps(SafeBootRegistration("windows", "peerdesk-agent"))); d != "" {
		t.Errorf("registration (-want +got):\n%s", d)
	}
	wantUn := []string{
		`registry: delete key HKLM\SYSTEM\CurrentControlSet\Control\SafeBoot\Minimal\peerdesk-agent`,
		`registry: delete key HKLM\SYSTEM\CurrentControlSet\Control\SafeBoot\Network\peerdesk-agent`,
	}
	if d := cmp.Diff(wantUn, steps(SafeBootUnregistration("windows", "peerdesk-agent"))); d != "" {
		t.Errorf("unregistration (-want +got):\n%s", d)
	}
	if s := SafeBootRegistration("linux", "peerdesk-agent"); len(s) != 0 {
		t.Errorf("linux registration: %v", steps(s))
	}
}

func TestOnStart(t *testing.T) {
	leak.Check(t)
	for _, tc := range []struct {
		name       string
		goos       string
		safeMode   bool
		keep       bool
		want       []string
		wantProbed bool
	}{
		{name: "safe mode, not kept: cleared", goos: "windows", safeMode: true, want: []string{delSafeboot, delAltShell}, wantProbed: true},
		{name: "safe mode, kept: left", goos: "windows", safeMode: true, keep: true, wantProbed: true},
		{name: "normal boot", goos: "windows", wantProbed: true},
		{name: "normal boot with a marker", goos: "windows", keep: true, wantProbed: true},
		{name: "linux has no safe mode", goos: "linux"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.keep {
				if err := os.WriteFile(filepath.Join(dir, KeepMarker), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// A clear that fails (the alternate shell was never set) must
			// not stop the start.
			r := &recorder{safeMode: tc.safeMode, fail: map[string]error{delAltShell: errors.New("element not found")}}
			if err := OnStart(t.Context(), Config{GOOS: tc.goos, StateDir: dir, Runner: r}); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, r.did); d != "" {
				t.Errorf("steps (-want +got):\n%s", d)
			}
			if (r.probed > 0) != tc.wantProbed {
				t.Errorf("probed %d times", r.probed)
			}
		})
	}
	t.Run("clearing fails", func(t *testing.T) {
		r := &recorder{safeMode: true, fail: map[string]error{delSafeboot: errors.New("access denied")}}
		err := OnStart(t.Context(), Config{GOOS: "windows", StateDir: t.TempDir(), Runner: r})
		if err == nil || !strings.Contains(err.Error(), "access denied") {
			t.Fatalf("err %v, want the failure", err)
		}
	})
}

// serve calls the handler as the gate would, with an immediate clock.
func serve(t *testing.T, h *Handler, method, body string) *httptest.ResponseRecorder {
	t.Helper()
	h.After = func(d time.Duration) <-chan time.Time {
		if d != h.delay() {
			t.Errorf("waited %v, want %v", d, h.delay())
		}
		c := make(chan time.Time, 1)
		c <- time.Time{}
		return c
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequestWithContext(t.Context(), method, wire.PeerPathPower, strings.NewReader(body))
	h.ServePeer(w, r, gate.Caller{Technician: "alice"})
	return w
}

func TestHandler(t *testing.T) {
	leak.Check(t)
	for _, tc := range []struct {
		goos, body string
		want       []string
	}{
		{"windows", `{"action":"safe-network"}`, []string{setNetwork, delAltShell, winReboot}},
		{"windows", `{"action":"safe-command"}`, []string{setMinimal, setAltShell, winReboot}},
		{"windows", `{"action":"reboot-emergency","confirm":true}`, []string{winEmergency}},
		{"linux", `{"action":"reboot"}`, []string{"systemctl reboot"}},
		{"linux", `{"action":"reboot-emergency","confirm":true}`, []string{"systemctl reboot --force"}},
	} {
		t.Run(tc.goos+" "+tc.body, func(t *testing.T) {
			r := &recorder{}
			h := &Handler{Config: Config{GOOS: tc.goos, StateDir: t.TempDir(), Runner: r}}
			w := httptest.NewRecorder()
			answered := false
			r.beforeRun = func(step string) {
				if step == tc.want[len(tc.want)-1] {
					// The reboot: the answer must be out already.
					answered = w.Flushed && strings.Contains(w.Body.String(), `"steps"`)
				}
			}
			h.After = func(time.Duration) <-chan time.Time {
				c := make(chan time.Time, 1)
				c <- time.Time{}
				return c
			}
			req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, wire.PeerPathPower, strings.NewReader(tc.body))
			h.ServePeer(w, req, gate.Caller{Technician: "alice"})
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			var res wire.PowerResult
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, res.Steps); d != "" {
				t.Errorf("answer (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.want, r.did); d != "" {
				t.Errorf("done (-want +got):\n%s", d)
			}
			if !answered {
				t.Error("rebooted before the answer was flushed")
			}
			if w.Header().Get("Content-Length") == "" {
				t.Error("no Content-Length: the client cannot tell the answer is complete")
			}
		})
	}
}

func TestHandlerKeepMarker(t *testing.T) {
	leak.Check(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, KeepMarker)
	h := &Handler{Config: Config{GOOS: "windows", StateDir: dir, Runner: &recorder{}}}
	if w := serve(t, h, http.MethodPost, `{"action":"safe-minimal","keep_safe_mode":true}`); w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("keep marker not written: %v", err)
	}
	// Kept: starting in Safe Mode leaves the flag.
	r := &recorder{safeMode: true}
	if err := OnStart(t.Context(), Config{GOOS: "windows", StateDir: dir, Runner: r}); err != nil || len(r.did) != 0 {
		t.Fatalf("OnStart with the marker: %v %v", err, r.did)
	}
	if w := serve(t, h, http.MethodPost, `{"action":"normal"}`); w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("keep marker still there after normal: %v", err)
	}
	// A Safe Mode request without keep removes an old marker too.
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if w := serve(t, h, http.MethodPost, `{"action":"safe-network"}`); w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("old keep marker survived a Safe Mode request without keep: %v", err)
	}
}

func TestHandlerRefuses(t *testing.T) {
	leak.Check(t)
	for _, tc := range []struct {
		name, goos, method, body string
		status                   int
	}{
		{"emergency without confirm", "windows", http.MethodPost, `{"action":"reboot-emergency"}`, http.StatusBadRequest},
		{"emergency without confirm (linux)", "linux", http.MethodPost, `{"action":"reboot-emergency","confirm":false}`, http.StatusBadRequest},
		{"unknown field", "windows", http.MethodPost, `{"action":"reboot","force":true}`, http.StatusBadRequest},
		{"unknown action", "windows", http.MethodPost, `{"action":"halt"}`, http.StatusBadRequest},
		{"no action", "windows", http.MethodPost, `{}`, http.StatusBadRequest},
		{"trailing data", "windows", http.MethodPost, `{"action":"reboot"} {"action":"reboot"}`, http.StatusBadRequest},
		{"not json", "windows", http.MethodPost, `reboot`, http.StatusBadRequest},
		{"too big", "windows", http.MethodPost, `{"action":"reboot","x":"` + strings.Repeat("a", wire.MaxRequestBody) + `"}`, http.StatusBadRequest},
		{"keep on a reboot", "windows", http.MethodPost, `{"action":"reboot","keep_safe_mode":true}`, http.StatusBadRequest},
		{"GET", "windows", http.MethodGet, ``, http.StatusMethodNotAllowed},
		{"safe mode on linux", "linux", http.MethodPost, `{"action":"safe-network"}`, http.StatusNotImplemented},
		{"rescue on linux", "linux", http.MethodPost, `{"action":"rescue"}`, http.StatusNotImplemented},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			w := serve(t, &Handler{Config: Config{GOOS: tc.goos, StateDir: t.TempDir(), Runner: r}}, tc.method, tc.body)
			if w.Code != tc.status {
				t.Errorf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			var e wire.Error
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Message == "" {
				t.Errorf("no error message: %q %v", w.Body, err)
			}
			if len(r.did) != 0 {
				t.Errorf("ran %v", r.did)
			}
		})
	}
}

func TestHandlerFailures(t *testing.T) {
	leak.Check(t)
	t.Run("preparation fails: reverted, no reboot", func(t *testing.T) {
		r := &recorder{fail: map[string]error{setAltShell: errors.New("access denied")}}
		w := serve(t, &Handler{Config: Config{GOOS: "windows", StateDir: t.TempDir(), Runner: r}}, http.MethodPost, `{"action":"safe-command"}`)
		if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "access denied") {
			t.Errorf("status %d: %s", w.Code, w.Body)
		}
		want := []string{setMinimal, setAltShell, delSafeboot, delAltShell}
		if d := cmp.Diff(want, r.did); d != "" {
			t.Errorf("steps (-want +got):\n%s", d)
		}
	})
	t.Run("reboot fails: flag and marker reverted", func(t *testing.T) {
		dir := t.TempDir()
		r := &recorder{fail: map[string]error{winReboot: errors.New("access denied")}}
		w := serve(t, &Handler{Config: Config{GOOS: "windows", StateDir: dir, Runner: r}}, http.MethodPost, `{"action":"safe-network","keep_safe_mode":true}`)
		if w.Code != http.StatusOK {
			t.Errorf("status %d: %s", w.Code, w.Body)
		}
		want := []string{setNetwork, delAltShell, winReboot, delSafeboot, delAltShell}
		if d := cmp.Diff(want, r.did); d != "" {
			t.Errorf("steps (-want +got):\n%s", d)
		}
		if _, err := os.Stat(filepath.Join(dir, KeepMarker)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("keep marker left after a failed reboot: %v", err)
		}
	})
	t.Run("no state directory for Safe Mode", func(t *testing.T) {
		r := &recorder{}
		w := serve(t, &Handler{Config: Config{GOOS: "windows", Runner: r}}, http.MethodPost, `{"action":"safe-minimal"}`)
		if w.Code != http.StatusInternalServerError {
			t.Errorf("status %d: %s", w.Code, w.Body)
		}
		if len(r.did) == 0 || r.did[len(r.did)-1] == winReboot {
			t.Errorf("steps %v", r.did)
		}
	})
}

func TestCapability(t *testing.T) {
	if (&Handler{}).Capability() != wire.CapPower {
		t.Error("the handler does not require CapPower")
	}
}

// FuzzDecode reads arbitrary bodies as a technician's power request and
// plans them, in memory: decoding never panics; it accepts only one strict
// PowerRequest with a defined action; and the plan of what it accepts never
// reboots in an emergency without the technician's confirmation, keeps
// Safe Mode only for a Safe Mode action, and says why it refuses.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"action":"reboot"}`, `{"action":"reboot-emergency","confirm":true}`, `{"action":"reboot-emergency"}`,
		`{"action":"safe-network","keep_safe_mode":true}`, `{"action":"safe-command"}`, `{"action":"normal"}`,
		`{"action":"rescue"}`, `{"action":"reboot","keep_safe_mode":true}`, `{"action":"halt"}`,
		`{"Action":"REBOOT"}`, `{"action":"reboot","force":true}`, `{"action":"reboot"} {}`, `{}`, `null`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decode(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, wire.PeerPathPower, strings.NewReader(string(body))))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("a refusal without a message")
			}
			return
		}
		if !req.Action.Valid() {
			t.Fatalf("accepted action %q", req.Action)
		}
		var strict wire.PowerRequest
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&strict); err != nil || strict != req {
			t.Fatalf("accepted %q as %+v; a strict decoder says %+v, %v", body, req, strict, err)
		}
		safe := req.Action == wire.PowerSafeMinimal || req.Action == wire.PowerSafeNetwork || req.Action == wire.PowerSafeCommand
		for _, goos := range []string{"windows", "linux", "darwin"} {
			p, err := PlanFor(goos, req)
			if err != nil {
				if err.Error() == "" {
					t.Fatalf("%s: a refusal without a message", goos)
				}
				continue
			}
			switch {
			case req.Action == wire.PowerRebootEmergency && !req.Confirm:
				t.Fatalf("%s: planned an unconfirmed emergency reboot: %+v", goos, p)
			case req.KeepSafeMode && !safe:
				t.Fatalf("%s: kept Safe Mode for %s", goos, req.Action)
			case p.Keep && !(safe && req.KeepSafeMode):
				t.Fatalf("%s: plan keeps Safe Mode for %+v", goos, req)
			case p.Action != req.Action:
				t.Fatalf("%s: plan for %s is for %s", goos, req.Action, p.Action)
			}
		}
	})
}
