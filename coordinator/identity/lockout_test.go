package identity

import (
	"errors"
	"sync"
	"testing"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
)

// TestM2ConcurrentGuessesStopAtTheLimit: many wrong guesses at once, on a
// real Badger store on disk, get at most policy.MaxFailedLogins answers
// ("wrong password"); every other one is told the account is locked,
// without learning whether it was right. Before, the lock was read outside
// the transaction that counted, so every guess that started before the
// lock was answered.
func TestM2ConcurrentGuessesStopAtTheLimit(t *testing.T) {
	leak.Check(t)
	a, _ := setup(t)
	const guesses = 40
	errs := make([]error, guesses)
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range guesses {
		wg.Go(func() {
			<-start
			_, errs[i] = a.Authenticate("alice", "wrong password!!")
		})
	}
	close(start)
	wg.Wait()
	answered, locking := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			t.Fatalf("guess %d: accepted", i)
		case errors.Is(err, ErrBadCredentials):
			answered++
			if errors.Is(err, ErrLocked) {
				locking++
			}
		case !errors.Is(err, ErrLocked):
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if answered != policy.MaxFailedLogins || locking != 1 {
		t.Fatalf("%d guesses answered (%d of them locking), want %d (1)", answered, locking, policy.MaxFailedLogins)
	}
	if _, err := a.Authenticate("alice", "correct horse battery"); !errors.Is(err, ErrLocked) {
		t.Fatalf("right password after the storm: %v", err)
	}
}

// hookDB runs before once, before the next Update.
type hookDB struct {
	store.DB
	before func()
}

func (h *hookDB) Update(fn func(store.Tx) error) error {
	if f := h.before; f != nil {
		h.before = nil
		f()
	}
	return h.DB.Update(fn)
}

// TestM2RightPasswordWhileLockedIsRefused: a right password whose check
// began before the account locked is refused once the lock is there, and
// the lock stays. Before, the transaction cleared the lock without looking
// at it, so a guesser racing the lockout could end it.
func TestM2RightPasswordWhileLockedIsRefused(t *testing.T) {
	leak.Check(t)
	db, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	hook := &hookDB{DB: db}
	a, c := setupOver(t, hook)
	// The right password has been read and hashed; before its outcome is
	// written, other guesses lock the account.
	hook.before = func() {
		for range policy.MaxFailedLogins {
			a.Authenticate("alice", "wrong password!!") //nolint:errcheck // locking is checked below
		}
	}
	if _, err := a.Authenticate("alice", "correct horse battery"); !errors.Is(err, ErrLocked) {
		t.Fatalf("right password that raced the lockout: %v, want ErrLocked", err)
	}
	u, err := a.Get("alice")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Now().Before(u.LockedUntil) {
		t.Fatalf("lock cleared: locked until %v at %v", u.LockedUntil, c.Now())
	}
}

// TestM2SecondFactorGuessesShareTheLockout: with TOTP on, a right
// password does not reset the failure count, and wrong codes count toward
// the same lock as wrong passwords, so knowing the password buys no more
// than policy.MaxFailedLogins code guesses.
func TestM2SecondFactorGuessesShareTheLockout(t *testing.T) {
	leak.Check(t)
	a, c := setup(t)
	enableTOTP(t, a, c, "alice")
	if _, err := a.Authenticate("alice", "wrong password!!"); !errors.Is(err, ErrBadCredentials) {
		t.Fatal(err)
	}
	for i := 2; i <= policy.MaxFailedLogins; i++ {
		res, err := a.Login("alice", "correct horse battery")
		if !errors.Is(err, ErrSecondFactorNeeded) {
			t.Fatalf("login %d: %v", i, err)
		}
		_, err = a.CompleteLogin(res.Pending, "000000x")
		if !errors.Is(err, ErrBadCode) {
			t.Fatalf("code %d: %v", i, err)
		}
		if locked := errors.Is(err, ErrLocked); locked != (i == policy.MaxFailedLogins) {
			t.Fatalf("failure %d: locked=%v (%v)", i, locked, err)
		}
	}
	if _, err := a.Login("alice", "correct horse battery"); !errors.Is(err, ErrLocked) {
		t.Fatalf("login after the codes: %v", err)
	}
}

// TestConcurrentCodeGuessesStopAtTheLimit: wrong codes on one pending
// login at once get at most policy.MaxFailedLogins answers.
func TestConcurrentCodeGuessesStopAtTheLimit(t *testing.T) {
	leak.Check(t)
	a, c := setup(t)
	enableTOTP(t, a, c, "alice")
	res, err := a.Login("alice", "correct horse battery")
	if !errors.Is(err, ErrSecondFactorNeeded) {
		t.Fatal(err)
	}
	const guesses = 40
	errs := make([]error, guesses)
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Go(func() { _, errs[i] = a.CompleteLogin(res.Pending, "12345") })
	}
	wg.Wait()
	answered := 0
	for _, err := range errs {
		if errors.Is(err, ErrBadCode) {
			answered++
		}
	}
	if answered != policy.MaxFailedLogins {
		t.Fatalf("%d code guesses answered, want %d", answered, policy.MaxFailedLogins)
	}
}
