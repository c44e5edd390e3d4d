package audit

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/wire"
)

func setup(t *testing.T) (*Log, *store.Badger) {
	t.Helper()
	db, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clock := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	return New(db, func() time.Time { return clock }), db
}

func TestAppendListVerify(t *testing.T) {
	leak.Check(t)
	l, _ := setup(t)
	for _, a := range []string{"login", "enroll", "login"} {
		if _, err := l.Append("coordinator", wire.AuditEvent{Actor: "alice", Action: a, Outcome: OK}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Append("coordinator", wire.AuditEvent{Actor: "mallory", Action: "login", Outcome: Denied, Reason: strings.Repeat("x", 5000)}); err != nil {
		t.Fatal(err)
	}
	logins, err := l.List(Query{Action: "login"})
	if err != nil || len(logins) != 3 {
		t.Fatalf("List(login) = %d records, %v", len(logins), err)
	}
	denied, err := l.List(Query{Outcome: Denied})
	if err != nil || len(denied) != 1 || len(denied[0].Reason) != maxField {
		t.Fatalf("List(denied) = %+v, %v", denied, err)
	}
	if n, err := l.Verify(); err != nil || n != 4 {
		t.Fatalf("Verify = %d, %v", n, err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	leak.Check(t)
	for name, tamper := range map[string]func(tx store.Tx) error{
		"edit": func(tx store.Tx) error {
			var r Record
			if err := tx.Get(nsRecord, seqKey(2), &r); err != nil {
				return err
			}
			r.Actor = "nobody"
			return tx.Put(nsRecord, seqKey(2), r)
		},
		"delete middle": func(tx store.Tx) error { return tx.Delete(nsRecord, seqKey(2)) },
		"delete last":   func(tx store.Tx) error { return tx.Delete(nsRecord, seqKey(3)) },
		"rehash edit": func(tx store.Tx) error {
			var r Record
			if err := tx.Get(nsRecord, seqKey(2), &r); err != nil {
				return err
			}
			r.Outcome = Denied
			r.Hash, _ = r.digest() // consistent itself, but record 3 no longer follows
			return tx.Put(nsRecord, seqKey(2), r)
		},
	} {
		t.Run(name, func(t *testing.T) {
			l, db := setup(t)
			for range 3 {
				if _, err := l.Append("coordinator", wire.AuditEvent{Actor: "a", Action: "x", Outcome: OK}); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Update(tamper); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Verify(); !errors.Is(err, ErrBroken) {
				t.Fatalf("Verify after %s = %v, want ErrBroken", name, err)
			}
		})
	}
}

func TestAppendRefusesUnencodableTime(t *testing.T) {
	leak.Check(t)
	l, _ := setup(t)
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := l.Append("agent:x", wire.AuditEvent{Time: far, Action: "x"}); err == nil {
		t.Fatal("accepted a record whose time cannot be encoded")
	}
	if n, err := l.Verify(); err != nil || n != 0 {
		t.Fatalf("Verify = %d, %v", n, err)
	}
}
