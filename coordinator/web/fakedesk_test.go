package web

import (
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

const (
	testURL   = "https://coord.test:8443"
	goodCode  = "123456"
	newCode   = "424242"
	carolCode = "777777" // carol's own code
	teamCode  = "222222" // the team's, first come
	bobCode   = "111111" // bob's own code
	askCode   = "314159" // an end user's request
)

var testPin = strings.Repeat("ab", 32)

// fakeDesk is an in-memory Desk and Portal. Codes in errs fail with their
// error; goodCode and the board's waiting technician codes pass CheckCode.
type fakeDesk struct {
	mu         sync.Mutex
	board      wire.SupportBoard
	errs       map[string]error
	checks     []string // "ip code"
	calls      []string // "action ip user args"
	boardCalls int
	changed    chan struct{}
}

func newFakeDesk() *fakeDesk {
	return &fakeDesk{
		errs: map[string]error{}, changed: make(chan struct{}),
		board: wire.SupportBoard{
			Codes: []wire.SupportCode{
				{Code: bobCode, Kind: support.KindTechnician, State: support.Waiting, Assignee: "bob", Created: t0.Add(-time.Minute)},
				{Code: teamCode, Kind: support.KindTechnician, State: support.Waiting, Created: t0.Add(-2 * time.Minute), Expires: t0.Add(time.Hour)},
				{Code: carolCode, Kind: support.KindTechnician, State: support.Waiting, Assignee: "carol", Created: t0.Add(-3 * time.Minute)},
				{Code: askCode, Kind: support.KindRequest, State: support.Waiting, Hostname: "front-desk-pc", Created: t0.Add(-4 * time.Minute)},
			},
			Sessions: []wire.SupportSession{
				{ID: "ses-bob", Code: "100001", Technician: "bob", Device: "sup-1", Hostname: "bob-user-pc", OS: "linux", OneTime: true, State: support.Open, Created: t0.Add(-10 * time.Minute), OverlayIP: "100.64.0.9"},
				{ID: "ses-carol", Code: "100002", Technician: "carol", Device: "dev-2", Hostname: "carol-user-pc", OS: "windows", State: support.Open, Created: t0.Add(-9 * time.Minute)},
				{ID: "ses-team", Code: "100003", Device: "sup-3", Hostname: "team-user-pc", OS: "linux", OneTime: true, State: support.Open, Created: t0.Add(-8 * time.Minute)},
				{ID: "ses-old", Code: "100004", Technician: "bob", Device: "sup-4", Hostname: "old-user-pc", State: support.Closed, Created: t0.Add(-3 * time.Hour), Ended: t0.Add(-2 * time.Hour)},
			},
		},
	}
}

func (d *fakeDesk) call(parts ...string) {
	d.calls = append(d.calls, strings.Join(parts, " "))
}

func (d *fakeDesk) Calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls)
}

func (d *fakeDesk) Checks() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.checks)
}

func (d *fakeDesk) CheckCode(ip, _, code string) (support.Code, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.checks = append(d.checks, ip+" "+code)
	if err := d.errs[code]; err != nil {
		return support.Code{}, desk.SupportError(err)
	}
	for _, c := range d.board.Codes {
		if c.Code == code && c.Kind == support.KindTechnician {
			return support.Code{Code: code, Kind: c.Kind, State: c.State}, nil
		}
	}
	if code == goodCode {
		return support.Code{Code: code, Kind: support.KindTechnician, State: support.Waiting}, nil
	}
	return support.Code{}, desk.SupportError(support.ErrNoCode)
}

// Board is the whole board for a caller who may work the desk (the real
// desk's filtering by owner and scope is tested in package desk).
func (d *fakeDesk) Board(c desk.Caller) (wire.SupportBoard, error) {
	if err := allow(c, policy.ActionSupport); err != nil {
		return wire.SupportBoard{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.boardCalls++
	return wire.SupportBoard{Codes: slices.Clone(d.board.Codes), Sessions: slices.Clone(d.board.Sessions)}, nil
}

func (d *fakeDesk) Changed() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.changed
}

// touch announces a change that changes nothing.
func (d *fakeDesk) touch() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.notify()
}

// notify announces a change; d.mu is held.
func (d *fakeDesk) notify() {
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *fakeDesk) BoardCalls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.boardCalls
}

// addCode puts a waiting technician code on the board.
func (d *fakeDesk) addCode(c wire.SupportCode) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.board.Codes = append(d.board.Codes, c)
	d.notify()
}

func (d *fakeDesk) GenerateCode(who desk.Caller, team bool, ttl time.Duration) (wire.SupportCode, error) {
	if err := allow(who, policy.ActionSupport); err != nil {
		return wire.SupportCode{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.call("generate", who.IP, who.User, boolWord(team), ttl.String())
	c := wire.SupportCode{Code: newCode, Kind: support.KindTechnician, State: support.Waiting, Assignee: who.User, Created: t0}
	if team {
		c.Assignee = ""
	}
	if ttl > 0 {
		c.Expires = t0.Add(ttl)
	}
	d.board.Codes = append(d.board.Codes, c)
	d.notify()
	return c, nil
}

func (d *fakeDesk) CancelCode(who desk.Caller, code string) error {
	if err := allow(who, policy.ActionSupport); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.call("cancel", who.IP, who.User, code)
	i := slices.IndexFunc(d.board.Codes, func(c wire.SupportCode) bool { return c.Code == code && c.Kind == support.KindTechnician })
	switch {
	case i < 0:
		return desk.SupportError(support.ErrNoCode)
	case d.board.Codes[i].Assignee != who.User && who.Role != policy.RoleAdmin:
		return desk.SupportError(support.ErrNotAllowed)
	}
	d.board.Codes = slices.Delete(d.board.Codes, i, i+1)
	d.notify()
	return nil
}

func (d *fakeDesk) Redeem(who desk.Caller, code string) (wire.SupportSession, error) {
	if err := allow(who, policy.ActionSupport); err != nil {
		return wire.SupportSession{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.call("redeem", who.IP, who.User, code)
	if err := d.errs[code]; err != nil {
		if errors.Is(err, support.ErrNotAllowed) {
			return wire.SupportSession{}, &desk.Error{Kind: desk.Conflict, Public: "that end user's computer is already in a support session", Err: err}
		}
		return wire.SupportSession{}, desk.SupportError(err)
	}
	i := slices.IndexFunc(d.board.Codes, func(c wire.SupportCode) bool { return c.Code == code && c.Kind == support.KindRequest })
	if i < 0 {
		return wire.SupportSession{}, desk.SupportError(support.ErrNoCode)
	}
	ss := wire.SupportSession{ID: "ses-new/1", Code: code, Technician: who.User, Device: "dev-9", Hostname: d.board.Codes[i].Hostname, State: support.Open, Created: t0}
	d.board.Codes = slices.Delete(d.board.Codes, i, i+1)
	d.board.Sessions = append(d.board.Sessions, ss)
	d.notify()
	return ss, nil
}

func (d *fakeDesk) EndSession(who desk.Caller, id string) error {
	if err := allow(who, policy.ActionSupport); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.call("end", who.IP, who.User, id)
	i := slices.IndexFunc(d.board.Sessions, func(s wire.SupportSession) bool { return s.ID == id })
	switch {
	case i < 0:
		return desk.SupportError(support.ErrNoSession)
	case d.board.Sessions[i].State != support.Open:
		return desk.SupportError(support.ErrEnded)
	case d.board.Sessions[i].Technician != who.User && d.board.Sessions[i].Technician != "" && who.Role != policy.RoleAdmin:
		return desk.SupportError(support.ErrNotYours)
	}
	d.board.Sessions[i].State, d.board.Sessions[i].Ended = support.Closed, t0
	d.notify()
	return nil
}

func boolWord(b bool) string {
	if b {
		return "team"
	}
	return "me"
}

// supportConfig is the dashboard's configuration with the fakes, the
// support desk and the portal.
func supportConfig(f *fakeBackend, d *fakeDesk, binaries string) Config {
	return Config{
		Backend: f, Desk: d, Portal: d, PublicURL: testURL, Pin: testPin,
		SupportBinaries: binaries, Now: func() time.Time { return t0 },
	}
}

func newSupportBrowser(t *testing.T, cfg Config) *browser {
	home := "/machines"
	if cfg.Desk != nil {
		home = deskPath // every role of the fakes but "viewer" works support
	}
	return &browser{t: t, h: New(cfg), cookies: map[string]*http.Cookie{}, home: home}
}

// binariesDir holds fake one-time agents for linux-amd64 and windows-amd64,
// and next to it a file no download may ever serve.
func binariesDir(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "bin")
	for name, content := range map[string]string{
		filepath.Join(root, "secret"):                          "TOPSECRET",
		filepath.Join(dir, "peerdesk-agent-linux-amd64"):       "\x7fELF-linux-amd64-agent",
		filepath.Join(dir, "peerdesk-agent-windows-amd64.exe"): "MZ-windows-amd64-agent",
		filepath.Join(dir, "peerdesk-agent-darwin-arm64", "x"): "a directory, not an executable",
	} {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var discard = slog.New(slog.DiscardHandler)

// the desk's rate limit on codes, for tables.
var errRate = &desk.Error{Kind: desk.RateLimited, Public: desk.ErrCodeRateLimited.Error(), Err: desk.ErrCodeRateLimited}
