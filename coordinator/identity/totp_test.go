package identity

import (
	"bytes"
	"errors"
	"image/png"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"tailscale.com/tstest"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
)

// code is the authenticator's code for secret at the clock's time.
func code(t *testing.T, secret string, now time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, now, totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongCode is six digits that are no code of secret around now.
func wrongCode(t *testing.T, secret string, now time.Time) string {
	t.Helper()
	near := map[string]bool{}
	for d := -2; d <= 2; d++ {
		near[code(t, secret, now.Add(time.Duration(d)*totpPeriod*time.Second))] = true
	}
	for _, w := range []string{"000000", "111111", "222222", "333333", "444444", "555555"} {
		if !near[w] {
			return w
		}
	}
	t.Fatal("no wrong code")
	return ""
}

// enableTOTP turns TOTP on for name and returns its secret and recovery
// codes; the clock moves on a step so the confirming code is spent.
func enableTOTP(t *testing.T, a *Accounts, c *tstest.Clock, name string) (string, []string) {
	t.Helper()
	setup, err := a.BeginTOTP(name)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := a.ConfirmTOTP(name, code(t, setup.Secret, c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(totpPeriod * time.Second)
	return setup.Secret, rec
}

func TestTOTPSetup(t *testing.T) {
	leak.Check(t)
	a, c := setup(t)
	s, err := a.BeginTOTP("alice")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s.URL)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("secret") != s.Secret ||
		u.Query().Get("issuer") != "peerdesk" || !strings.Contains(u.Path, "alice") {
		t.Fatalf("URL %q: %v", s.URL, err)
	}
	if img, err := png.Decode(bytes.NewReader(s.PNG)); err != nil || img.Bounds().Dx() != 256 {
		t.Fatalf("QR PNG: %v", err)
	}
	// Not on until confirmed: the password alone still logs in.
	if _, err := a.Login("alice", "correct horse battery"); err != nil {
		t.Fatalf("login before confirming: %v", err)
	}
	if _, err := a.ConfirmTOTP("alice", wrongCode(t, s.Secret, c.Now())); !errors.Is(err, ErrBadCode) {
		t.Fatalf("confirm with a wrong code: %v", err)
	}
	rec, err := a.ConfirmTOTP("alice", code(t, s.Secret, c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rec {
		if normalizeRecovery(r) == "" || seen[r] {
			t.Fatalf("recovery codes %q", rec)
		}
		seen[r] = true
	}
	if len(rec) != RecoveryCodeCount {
		t.Fatalf("%d recovery codes", len(rec))
	}
	if _, err := a.BeginTOTP("alice"); !errors.Is(err, ErrTOTPEnabled) {
		t.Fatalf("second setup: %v", err)
	}
	// A setup not confirmed within 10 minutes is gone.
	if err := a.Create("bob", "correct horse battery", policy.RoleTechnician); err != nil {
		t.Fatal(err)
	}
	bs, err := a.BeginTOTP("bob")
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(totpSetupTTL)
	if _, err := a.ConfirmTOTP("bob", code(t, bs.Secret, c.Now())); !errors.Is(err, ErrNoTOTPSetup) {
		t.Fatalf("confirm after 10 minutes: %v", err)
	}
}

func TestTOTPLogin(t *testing.T) {
	leak.Check(t)
	a, c := setup(t)
	secret, rec := enableTOTP(t, a, c, "alice")

	res, err := a.Login("alice", "correct horse battery")
	if !errors.Is(err, ErrSecondFactorNeeded) || res.Token != "" || len(res.Pending) != 64 {
		t.Fatalf("login: %v, %v", res, err)
	}
	// The old doors do not skip the second factor.
	if _, err := a.Authenticate("alice", "correct horse battery"); !errors.Is(err, ErrSecondFactorNeeded) {
		t.Fatalf("Authenticate: %v", err)
	}
	if _, _, err := a.NewSession(User{Name: "alice"}); !errors.Is(err, ErrSecondFactorNeeded) {
		t.Fatalf("NewSession: %v", err)
	}
	if _, err := a.Session(res.Pending); !errors.Is(err, ErrNoSession) {
		t.Fatalf("pending token as a session: %v", err)
	}
	if _, err := a.CompleteLogin(res.Pending, wrongCode(t, secret, c.Now())); !errors.Is(err, ErrBadCode) {
		t.Fatalf("wrong code: %v", err)
	}
	ok := code(t, secret, c.Now())
	done, err := a.CompleteLogin(res.Pending, ok) // a retry on the same pending login
	if err != nil {
		t.Fatal(err)
	}
	if s, err := a.Session(done.Token); err != nil || s.User != "alice" {
		t.Fatalf("session: %+v, %v", s, err)
	}
	// The pending login is spent; the code cannot be used again in its window.
	if _, err := a.CompleteLogin(res.Pending, ok); !errors.Is(err, ErrNoPendingLogin) {
		t.Fatalf("pending used twice: %v", err)
	}
	res, _ = a.Login("alice", "correct horse battery")
	if _, err := a.CompleteLogin(res.Pending, ok); !errors.Is(err, ErrBadCode) {
		t.Fatalf("replayed code: %v", err)
	}
	c.Advance(totpPeriod * time.Second)
	if _, err := a.CompleteLogin(res.Pending, code(t, secret, c.Now())); err != nil {
		t.Fatalf("next step's code: %v", err)
	}
	// A recovery code works once, typed in any case.
	res, _ = a.Login("alice", "correct horse battery")
	if _, err := a.CompleteLogin(res.Pending, strings.ToUpper(rec[3])); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	res, _ = a.Login("alice", "correct horse battery")
	if _, err := a.CompleteLogin(res.Pending, rec[3]); !errors.Is(err, ErrBadCode) {
		t.Fatalf("recovery code used twice: %v", err)
	}
	// A pending login lives PendingLoginTTL.
	res, _ = a.Login("alice", "correct horse battery")
	c.Advance(PendingLoginTTL)
	if _, err := a.CompleteLogin(res.Pending, code(t, secret, c.Now())); !errors.Is(err, ErrNoPendingLogin) {
		t.Fatalf("expired pending login: %v", err)
	}
	list, err := a.List()
	if err != nil || !list[0].TOTP || list[0].RecoveryCodesLeft != RecoveryCodeCount-1 {
		t.Fatalf("List = %+v, %v", list, err)
	}
}

func TestTOTPRequiredForAdmins(t *testing.T) {
	leak.Check(t)
	a, c := setup(t)
	if err := a.Create("bob", "correct horse battery", policy.RoleTechnician); err != nil {
		t.Fatal(err)
	}
	before, err := a.Login("alice", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetAccountRules(policy.AccountRules{TOTPRequiredForAdmins: true}); err != nil {
		t.Fatal(err)
	}
	// At once, also for the session already open.
	if s, err := a.Session(before.Token); !errors.Is(err, ErrTOTPSetupRequired) || s.User != "alice" {
		t.Fatalf("open admin session: %+v, %v", s, err)
	}
	res, err := a.Login("alice", "correct horse battery")
	if !errors.Is(err, ErrTOTPSetupRequired) || res.Token == "" {
		t.Fatalf("admin login: %v, %v", res, err)
	}
	if _, err := a.Login("bob", "correct horse battery"); err != nil {
		t.Fatalf("technician login: %v", err)
	}
	enableTOTP(t, a, c, "alice")
	if _, err := a.Session(res.Token); err != nil {
		t.Fatalf("after setting up TOTP: %v", err)
	}
	// An admin's reset puts the account back to setting up.
	if err := a.ResetTOTP("alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Session(res.Token); !errors.Is(err, ErrTOTPSetupRequired) {
		t.Fatalf("after a reset: %v", err)
	}
}

func TestDisableTOTP(t *testing.T) {
	leak.Check(t)
	a, c := setup(t)
	secret, rec := enableTOTP(t, a, c, "alice")
	if err := a.DisableTOTP("alice", wrongCode(t, secret, c.Now())); !errors.Is(err, ErrBadCode) {
		t.Fatalf("wrong code: %v", err)
	}
	if u, _ := a.Get("alice"); u.Failures != 1 {
		t.Fatalf("failures = %d, want the wrong code counted", u.Failures)
	}
	if err := a.DisableTOTP("alice", rec[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Login("alice", "correct horse battery"); err != nil {
		t.Fatalf("login without TOTP: %v", err)
	}
	if err := a.DisableTOTP("alice", rec[1]); !errors.Is(err, ErrTOTPNotEnabled) {
		t.Fatalf("disable twice: %v", err)
	}
}

// TestTOTPSecretSealedAtRest: the store holds no TOTP secret in a form a
// copy of it can use; a sealed secret moved to another account does not
// open; without a seal key TOTP cannot be set up.
func TestTOTPSecretSealedAtRest(t *testing.T) {
	leak.Check(t)
	db, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a, c := setupOver(t, db)
	secret, rec := enableTOTP(t, a, c, "alice")
	raw, err := b32.DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	dump := dumpStore(t, db)
	for _, s := range append([][]byte{[]byte(secret), raw}, []byte(rec[0]), []byte(normalizeRecovery(rec[0]))) {
		if bytes.Contains(dump, s) {
			t.Fatalf("store holds a secret in clear: %q", s)
		}
	}
	if err := a.Create("mallory", "correct horse battery", policy.RoleTechnician); err != nil {
		t.Fatal(err)
	}
	alice, _ := a.Get("alice")
	if err := db.Update(func(tx store.Tx) error {
		var m User
		if err := tx.Get(nsUser, "mallory", &m); err != nil {
			return err
		}
		m.TOTP = alice.TOTP
		return tx.Put(nsUser, "mallory", m)
	}); err != nil {
		t.Fatal(err)
	}
	res, err := a.Login("mallory", "correct horse battery")
	if !errors.Is(err, ErrSecondFactorNeeded) {
		t.Fatal(err)
	}
	c.Advance(totpPeriod * time.Second)
	if _, err := a.CompleteLogin(res.Pending, code(t, secret, c.Now())); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("alice's sealed secret in mallory's record: %v", err)
	}
	plain, err := New(db, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.BeginTOTP("mallory"); !errors.Is(err, ErrNoSealKey) {
		t.Fatalf("without a seal key: %v", err)
	}
}

func dumpStore(t *testing.T, db store.DB) []byte {
	t.Helper()
	var all []byte
	for _, ns := range []string{nsUser, nsSession, nsUserSess, nsPending, nsAPIKey, nsUserKey, nsSettings} {
		if err := db.View(func(tx store.Tx) error {
			return tx.Scan(ns, "", func(k string, v []byte) error {
				all = append(all, k...)
				all = append(all, v...)
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
	}
	return all
}

func TestLoadOrCreateSealKey(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/seal.key"
	k1, err := LoadOrCreateSealKey(path)
	if err != nil || len(k1) != sealKeyLen {
		t.Fatalf("create: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi.Mode(), err)
	}
	if err := os.WriteFile(path+".bad", []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSealKey(path + ".bad"); err == nil {
		t.Fatal("loaded a file that is no seal key")
	}
	k2, err := LoadOrCreateSealKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("load: %v", err)
	}
	sealed, err := seal(k1, "aad", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open(bytes.Repeat([]byte{1}, sealKeyLen), "aad", sealed); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("another key opened it: %v", err)
	}
	if p, err := open(k1, "aad", sealed); err != nil || string(p) != "secret" {
		t.Fatalf("open: %q, %v", p, err)
	}
}
