package sessionhelper

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestChoose(t *testing.T) {
	t.Parallel()
	screen := func(id uint32) Want { return Want{Role: Screen, Session: id, As: AsSystem} }
	user := func(id uint32, u string) Want { return Want{Role: UserUI, Session: id, As: AsUser, User: u} }
	services := Session{ID: 0, State: Disconnected}
	for _, tc := range []struct {
		name string
		snap Snapshot
		want []Want
	}{
		{"logon screen after boot: SYSTEM only", Snapshot{Console: 1, Sessions: []Session{services, {ID: 1, State: Connected}}},
			[]Want{screen(1)}},
		{"user logged on", Snapshot{Console: 1, Sessions: []Session{services, {ID: 1, State: Active, User: `PC\ann`}}},
			[]Want{screen(1), user(1, `PC\ann`)}},
		{"fast user switch in progress: no console session", Snapshot{Console: NoSession, Sessions: []Session{services, {ID: 1, State: Disconnected, User: `PC\ann`}}},
			nil},
		{"switched to a second user: follows the console", Snapshot{Console: 2, Sessions: []Session{services, {ID: 1, State: Disconnected, User: `PC\ann`}, {ID: 2, State: Active, User: `PC\bob`}}},
			[]Want{screen(2), user(2, `PC\bob`)}},
		{"switch to a new session's logon screen", Snapshot{Console: 3, Sessions: []Session{services, {ID: 1, State: Disconnected, User: `PC\ann`}, {ID: 3, State: Connected}}},
			[]Want{screen(3)}},
		{"user at the console, another over RDP: the console only", Snapshot{Console: 1, Sessions: []Session{services, {ID: 1, State: Active, User: `PC\ann`}, {ID: 2, State: Active, User: `PC\rdp`}, {ID: 65536, State: Listening}}},
			[]Want{screen(1), user(1, `PC\ann`)}},
		{"console reported as session 0: never a desktop", Snapshot{Console: 0, Sessions: []Session{services}},
			nil},
		{"console session ended between the two calls", Snapshot{Console: 4, Sessions: []Session{services, {ID: 1, State: Active, User: `PC\ann`}}},
			nil},
		{"a listener is no desktop", Snapshot{Console: 65536, Sessions: []Session{{ID: 65536, State: Listening}}},
			nil},
		{"a disconnected user's session named as console: screen, no user UI", Snapshot{Console: 1, Sessions: []Session{{ID: 1, State: Disconnected, User: `PC\ann`}}},
			[]Want{screen(1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if d := cmp.Diff(tc.want, Choose(tc.snap)); d != "" {
				t.Errorf("Choose (-want +got):\n%s", d)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		prev, ran, want time.Duration
	}{
		{0, 0, time.Second}, // first exit
		{time.Second, 100 * time.Millisecond, 2 * time.Second}, // crashes at once: doubles
		{2 * time.Second, time.Second, 4 * time.Second},
		{32 * time.Second, time.Second, time.Minute}, // capped
		{time.Minute, time.Second, time.Minute},
		{time.Minute, time.Minute, time.Second}, // ran a minute: back to the first delay
		{8 * time.Second, time.Hour, time.Second},
	} {
		if got := Backoff(tc.prev, tc.ran); got != tc.want {
			t.Errorf("Backoff(%v, %v) = %v, want %v", tc.prev, tc.ran, got, tc.want)
		}
	}
}

func TestReconcile(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	screen1 := Want{Role: Screen, Session: 1, As: AsSystem}
	screen2 := Want{Role: Screen, Session: 2, As: AsSystem}
	ann := Want{Role: UserUI, Session: 1, As: AsUser, User: `PC\ann`}
	bob := Want{Role: UserUI, Session: 1, As: AsUser, User: `PC\bob`}
	running := func(w Want, pid uint32) Helper { return Helper{Want: w, PID: pid, Started: t0} }
	exited := func(w Want, pid uint32, at time.Time, delay time.Duration) Helper {
		return Helper{Want: w, PID: pid, Started: t0, Exited: at, Delay: delay}
	}
	for _, tc := range []struct {
		name  string
		want  []Want
		known []Helper
		now   time.Time
		plan  Plan
	}{
		{"service start: start both", []Want{screen1, ann}, nil, t0,
			Plan{Start: []Want{screen1, ann}}},
		{"all running as wanted: nothing to do", []Want{screen1, ann}, []Helper{running(screen1, 10), running(ann, 11)}, t0,
			Plan{}},
		{"logoff: the user's helper stops, the screen helper stays", []Want{screen1}, []Helper{running(screen1, 10), running(ann, 11)}, t0,
			Plan{Stop: []Helper{running(ann, 11)}}},
		{"logon: the user's helper starts", []Want{screen1, ann}, []Helper{running(screen1, 10)}, t0,
			Plan{Start: []Want{ann}}},
		{"another user in the same session: replaced at once", []Want{screen1, bob}, []Helper{running(screen1, 10), running(ann, 11)}, t0,
			Plan{Stop: []Helper{running(ann, 11)}, Start: []Want{bob}}},
		{"console moved to session 2: both stop, the screen helper starts there", []Want{screen2}, []Helper{running(screen1, 10), running(ann, 11)}, t0,
			Plan{Stop: []Helper{running(screen1, 10), running(ann, 11)}, Start: []Want{screen2}}},
		{"switch in progress: everything stops, nothing starts", nil, []Helper{running(screen1, 10), running(ann, 11)}, t0,
			Plan{Stop: []Helper{running(screen1, 10), running(ann, 11)}}},
		{"crashed: waits out its delay", []Want{screen1}, []Helper{exited(screen1, 10, t0, 4*time.Second)}, t0.Add(time.Second),
			Plan{RetryAt: t0.Add(4 * time.Second)}},
		{"crashed: restarted once the delay has passed", []Want{screen1}, []Helper{exited(screen1, 10, t0, 4*time.Second)}, t0.Add(4 * time.Second),
			Plan{Start: []Want{screen1}}},
		{"exited, and the console moved meanwhile: no delay", []Want{screen2}, []Helper{exited(screen1, 10, t0, time.Minute)}, t0.Add(time.Second),
			Plan{Start: []Want{screen2}}},
		{"exited and no longer wanted: nothing", nil, []Helper{exited(screen1, 10, t0, time.Second)}, t0.Add(time.Hour),
			Plan{}},
		{"two waiting: the earlier retry", []Want{screen1, ann}, []Helper{exited(screen1, 10, t0, 8*time.Second), exited(ann, 11, t0, 2*time.Second)}, t0,
			Plan{RetryAt: t0.Add(2 * time.Second)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if d := cmp.Diff(tc.plan, Reconcile(tc.want, tc.known, tc.now)); d != "" {
				t.Errorf("Reconcile (-want +got):\n%s", d)
			}
		})
	}
}

// TestReconcileSettles is a property over random machines: applying a
// plan (its stops, then its starts) leaves nothing more to do, nothing
// wanted is left without a helper unless it waits out a delay, and no
// helper runs in session 0 or outside the console's session.
func TestReconcileSettles(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(15, 2))
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	users := []string{"", `PC\ann`, `PC\bob`}
	states := []State{Active, Connected, Disconnected, Listening}
	for i := range 5000 {
		snap := Snapshot{Console: uint32(rng.IntN(4))}
		if rng.IntN(5) == 0 {
			snap.Console = NoSession
		}
		for id := range uint32(4) {
			if rng.IntN(4) > 0 {
				snap.Sessions = append(snap.Sessions, Session{ID: id, State: states[rng.IntN(len(states))], User: users[rng.IntN(len(users))]})
			}
		}
		want := Choose(snap)
		var known []Helper
		for _, r := range []Role{Screen, UserUI} {
			if rng.IntN(3) == 0 {
				continue
			}
			h := Helper{Want: Want{Role: r, Session: uint32(rng.IntN(4)), As: AsSystem}, PID: uint32(100 + i), Started: t0}
			if r == UserUI {
				h.As, h.User = AsUser, users[1+rng.IntN(2)]
			}
			if rng.IntN(2) == 0 {
				h.Exited, h.Delay = t0.Add(time.Second), time.Duration(rng.IntN(4))*time.Second
			}
			known = append(known, h)
		}
		now := t0.Add(time.Duration(rng.IntN(6)) * time.Second)
		plan := Reconcile(want, known, now)
		for _, w := range want {
			if w.Session == 0 || w.Session == NoSession || w.Session != snap.Console {
				t.Fatalf("case %d: %+v wants a helper in session %d (console %d)", i, snap, w.Session, snap.Console)
			}
		}
		// Apply: stopped helpers end now, started ones run.
		var after []Helper
		for _, h := range known {
			if slices.Contains(plan.Stop, h) {
				h.Exited, h.Delay = now, time.Hour // stopped, not crashed: must not be restarted as itself
			}
			if !slices.ContainsFunc(plan.Start, func(w Want) bool { return w.Role == h.Role }) {
				after = append(after, h)
			}
		}
		for _, w := range plan.Start {
			after = append(after, Helper{Want: w, PID: 1, Started: now})
		}
		again := Reconcile(want, after, now)
		if len(again.Stop) > 0 || len(again.Start) > 0 {
			t.Fatalf("case %d: %+v known %+v: plan %+v, then still %+v", i, snap, known, plan, again)
		}
		for _, w := range want {
			ok := slices.ContainsFunc(after, func(h Helper) bool { return h.Want == w && h.Running() })
			if !ok && again.RetryAt.IsZero() {
				t.Fatalf("case %d: %+v is wanted, not running, and nothing is scheduled", i, w)
			}
		}
	}
}

func TestUserAtConsole(t *testing.T) {
	t.Parallel()
	services := Session{ID: 0, State: Disconnected}
	for _, tc := range []struct {
		name string
		snap Snapshot
		want Want
		err  error
	}{
		{"a user at the console", Snapshot{Console: 2, Sessions: []Session{services, {ID: 1, State: Disconnected, User: `PC\ann`}, {ID: 2, State: Active, User: `PC\bob`}}},
			Want{Role: UserUI, Session: 2, As: AsUser, User: `PC\bob`}, nil},
		{"the logon screen: nobody to show it to", Snapshot{Console: 1, Sessions: []Session{services, {ID: 1, State: Connected}}}, Want{}, ErrNobodyAtConsole},
		{"a switch in progress", Snapshot{Console: NoSession, Sessions: []Session{services}}, Want{}, ErrNobodyAtConsole},
		{"a disconnected user named as console", Snapshot{Console: 1, Sessions: []Session{services, {ID: 1, State: Disconnected, User: `PC\ann`}}}, Want{}, ErrNobodyAtConsole},
	} {
		got, err := UserAtConsole(tc.snap)
		if got != tc.want || err != tc.err {
			t.Errorf("%s: UserAtConsole = %+v, %v; want %+v, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}
