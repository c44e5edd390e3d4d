package support

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"tailscale.com/tstest"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/harness/leak"
)

var testKey = bytes.Repeat([]byte{3}, 32)

func env(t *testing.T, cfg Config) (*Desk, *store.Badger, *tstest.Clock) {
	t.Helper()
	db, err := store.OpenInMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := tstest.NewClock(tstest.ClockOpts{Start: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)})
	if cfg.Key == nil {
		cfg.Key = testKey
	}
	cfg.Now = c.Now
	d, err := Load(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d, db, c
}

// raw returns every stored support record's bytes.
func raw(t *testing.T, db store.DB) [][]byte {
	t.Helper()
	var out [][]byte
	if err := db.View(func(tx store.Tx) error {
		for _, ns := range []string{nsCode, nsCodeClear, nsSession, nsByDevice} {
			if err := tx.Scan(ns, "", func(k string, v []byte) error {
				out = append(out, append([]byte(k+" "), v...))
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func inClear(t *testing.T, db store.DB, digits string) bool {
	t.Helper()
	for _, r := range raw(t, db) {
		if bytes.Contains(r, []byte(`"`+digits+`"`)) || bytes.HasPrefix(r, []byte(digits+" ")) {
			return true
		}
	}
	return false
}

// TestL3CodesNotStoredInClear: neither a live code's record nor its
// session holds its digits in clear, yet the code works and is shown back
// to its creator; under another key nothing of it can be found.
func TestL3CodesNotStoredInClear(t *testing.T) {
	leak.Check(t)
	d, db, _ := env(t, Config{})
	tech, err := d.Generate("alice", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	req, err := d.Request("dev-1", "front-desk", 0)
	if err != nil {
		t.Fatal(err)
	}
	if tech.Ref == "" || tech.Ref != d.ref(tech.Code) {
		t.Fatalf("Generate returned Ref %q", tech.Ref)
	}
	for _, c := range []Code{tech, req} {
		if inClear(t, db, c.Code) {
			t.Fatalf("code %s is stored in clear", c.Code)
		}
		if got, err := d.Lookup(c.Code); err != nil || got.Code != c.Code || got.Kind != c.Kind {
			t.Fatalf("Lookup(%s) = %+v, %v", c.Code, got, err)
		}
	}
	codes, err := d.Codes()
	if err != nil || len(codes) != 2 {
		t.Fatalf("Codes = %+v, %v", codes, err)
	}
	for _, c := range codes {
		if c.Code != tech.Code && c.Code != req.Code {
			t.Fatalf("Codes shows %q", c.Code)
		}
	}
	ss, _, err := d.Join(JoinRequest{Code: tech.Code, Hostname: "pc"})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := d.Redeem(req.Code, "bob")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{tech.Code, req.Code} {
		if inClear(t, db, c) {
			t.Fatalf("code %s is stored in clear once bound", c)
		}
	}
	if s, err := d.Session(ss.ID); err != nil || s.Code != tech.Code || s.CodeRef != tech.Ref {
		t.Fatalf("Session = %+v, %v", s, err)
	}
	if _, err := d.End(rs.ID, "bob", "done"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Lookup(req.Code); !errors.Is(err, ErrUsed) {
		t.Fatalf("a code whose session ended: %v, want ErrUsed", err)
	}

	other, err := Load(db, Config{Key: bytes.Repeat([]byte{4}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Lookup(tech.Code); !errors.Is(err, ErrNoCode) {
		t.Fatalf("another key found the code: %v", err)
	}
	if cs, err := other.Codes(); err != nil || len(cs) != 0 {
		t.Fatalf("another key lists %+v, %v", cs, err)
	}
}

// TestM3GeneratedCodesExpireByDefault: a code generated without a
// lifetime expires after DefaultCodeTTL (it used to live until used);
// no expiry only when configured.
func TestM3GeneratedCodesExpireByDefault(t *testing.T) {
	leak.Check(t)
	d, _, c := env(t, Config{})
	code, err := d.Generate("alice", true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := c.PeekNow().Add(DefaultCodeTTL); !code.Expires.Equal(want) {
		t.Fatalf("expires %v, want %v", code.Expires, want)
	}
	c.Advance(DefaultCodeTTL + time.Second)
	if _, err := d.Lookup(code.Code); !errors.Is(err, ErrExpired) {
		t.Fatalf("after %v: %v, want ErrExpired", DefaultCodeTTL, err)
	}
	if _, _, err := d.Join(JoinRequest{Code: code.Code}); !errors.Is(err, ErrExpired) {
		t.Fatalf("joining an expired code: %v", err)
	}

	d, _, _ = env(t, Config{CodeTTL: 5 * time.Minute})
	if code, err := d.Generate("alice", false, 0); err != nil || code.Expires.Sub(code.Created) != 5*time.Minute {
		t.Fatalf("configured 5 min: %+v, %v", code, err)
	}
	if code, err := d.Generate("alice", false, 2*time.Hour); err != nil || code.Expires.Sub(code.Created) != 2*time.Hour {
		t.Fatalf("asked 2 h: %+v, %v", code, err)
	}
	d, _, _ = env(t, Config{CodeTTL: NoExpiry})
	if code, err := d.Generate("alice", false, 0); err != nil || !code.Expires.IsZero() {
		t.Fatalf("configured NoExpiry: %+v, %v", code, err)
	}
	if _, err := d.Generate("alice", false, -time.Minute); err == nil {
		t.Fatal("a negative lifetime was accepted")
	}
}

// TestL3MigratesClearCodes: codes and sessions an older version stored in
// clear are sealed at Load; a waiting code gets at most the default
// lifetime, spent ones are dropped.
func TestL3MigratesClearCodes(t *testing.T) {
	leak.Check(t)
	db, err := store.OpenInMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	old := now.Add(-time.Hour)
	if err := db.Update(func(tx store.Tx) error {
		return errors.Join(
			tx.Put(nsCodeClear, "111111", Code{Code: "111111", Kind: KindTechnician, State: Waiting, CreatedBy: "alice", Assignee: "alice", Created: old}),
			tx.Put(nsCodeClear, "222222", Code{Code: "222222", Kind: KindTechnician, State: Bound, CreatedBy: "alice", Created: old, Session: "ses-1"}),
			tx.Put(nsCodeClear, "333333", Code{Code: "333333", Kind: KindTechnician, State: Ended, CreatedBy: "alice", Created: old}),
			tx.Put(nsSession, "ses-1", Session{ID: "ses-1", Code: "222222", Technician: "alice", Device: "sup-1", State: Open, Created: old}),
			tx.Put(nsByDevice, "sup-1", "ses-1"),
		)
	}); err != nil {
		t.Fatal(err)
	}
	d, err := Load(db, Config{Key: testKey, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, digits := range []string{"111111", "222222", "333333"} {
		if inClear(t, db, digits) {
			t.Fatalf("%s still in clear after Load", digits)
		}
	}
	if c, err := d.Lookup("111111"); err != nil || !c.Expires.Equal(now.Add(DefaultCodeTTL)) {
		t.Fatalf("migrated waiting code: %+v, %v", c, err)
	}
	if _, err := d.Lookup("222222"); !errors.Is(err, ErrUsed) {
		t.Fatalf("migrated bound code: %v", err)
	}
	if _, err := d.Lookup("333333"); !errors.Is(err, ErrNoCode) {
		t.Fatalf("an ended clear code survived: %v", err)
	}
	s, err := d.End("ses-1", "alice", "done")
	if err != nil || s.Code != "222222" {
		t.Fatalf("ending the migrated session: %+v, %v", s, err)
	}
	codes, _ := d.Codes()
	for _, c := range codes {
		if c.Code == "222222" && c.State != Ended {
			t.Fatalf("the migrated session's code was not released: %+v", c)
		}
	}
}

// TestL2OneOpenRequestPerDevice: a device that asks for help again while
// its code is waiting gets the same code, however many times and however
// concurrently it asks; once that code is used, cancelled or expired, the
// next ask gets a new one. Another device gets its own.
func TestL2OneOpenRequestPerDevice(t *testing.T) {
	leak.Check(t)
	d, db, clock := env(t, Config{})
	first, err := d.Request("dev-1", "front-desk", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	codes := make(chan string, 50)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			c, err := d.Request("dev-1", "front-desk", time.Hour)
			if err != nil {
				t.Error(err)
			}
			codes <- c.Code
		})
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != first.Code {
			t.Fatalf("asking again gave code %s, want the waiting %s", c, first.Code)
		}
	}
	if n := countCodes(t, d); n != 1 {
		t.Fatalf("%d codes after 51 asks from one device, want 1", n)
	}
	if other, err := d.Request("dev-2", "lab", time.Hour); err != nil || other.Code == first.Code {
		t.Fatalf("another device: %+v, %v", other, err)
	}
	if inClear(t, db, first.Code) {
		t.Fatal("the device's pointer to its request holds the digits in clear")
	}

	if err := d.Cancel(first.Code, "alice", true); err != nil {
		t.Fatal(err)
	}
	second, err := d.Request("dev-1", "front-desk", time.Hour)
	if err != nil || second.Code == first.Code || !second.Active(clock.Now()) {
		t.Fatalf("after cancelling: %+v, %v; want a new waiting code", second, err)
	}
	clock.Advance(time.Hour + time.Second)
	third, err := d.Request("dev-1", "front-desk", time.Hour)
	if err != nil || third.Code == second.Code || !third.Active(clock.Now()) {
		t.Fatalf("after expiry: %+v, %v; want a new waiting code", third, err)
	}
}

func countCodes(t *testing.T, d *Desk) int {
	t.Helper()
	all, err := d.Codes()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range all {
		if c.State == Waiting {
			n++
		}
	}
	return n
}
