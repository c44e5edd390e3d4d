package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/peerdesk/peerdesk/harness/leak"
)

type rec struct {
	Name string
	N    int
}

func open(t *testing.T, dir string) *Badger {
	t.Helper()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCRUD(t *testing.T) {
	leak.Check(t)
	dir := t.TempDir()
	s := open(t, dir)
	if err := s.Update(func(tx Tx) error {
		if err := tx.Insert("user", "alice", rec{"alice", 1}); err != nil {
			return err
		}
		if err := tx.Insert("user", "alice", rec{"alice", 2}); !errors.Is(err, ErrExists) {
			return fmt.Errorf("second insert = %v, want ErrExists", err)
		}
		for i := range 3 {
			if err := tx.Put("item", fmt.Sprintf("k%02d", i), rec{N: i}); err != nil {
				return err
			}
		}
		return tx.Put("itemx", "k00", rec{N: 99}) // must not show in a scan of "item"
	}); err != nil {
		t.Fatal(err)
	}
	// Reopen: the data is on disk.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	defer s.Close()
	if err := s.View(func(tx Tx) error {
		var r rec
		if err := tx.Get("user", "alice", &r); err != nil || r.N != 1 {
			return fmt.Errorf("get = %+v, %v", r, err)
		}
		if err := tx.Get("user", "bob", &r); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("missing get = %v", err)
		}
		var got []int
		err := tx.Scan("item", "k", func(k string, v []byte) error {
			var r rec
			if err := Decode(v, &r); err != nil {
				return err
			}
			got = append(got, r.N)
			if len(got) == 2 {
				return ErrStop
			}
			return nil
		})
		if err != nil || len(got) != 2 || got[0] != 0 || got[1] != 1 {
			return fmt.Errorf("scan = %v, %v", got, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(func(tx Tx) error { return tx.Put("bad/ns", "k", 1) }); err == nil {
		t.Fatal("accepted a namespace with a slash")
	}
}

func TestConcurrentCounterRetriesConflicts(t *testing.T) {
	leak.Check(t)
	s := open(t, t.TempDir())
	defer s.Close()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				err := s.Update(func(tx Tx) error {
					var n int
					if err := tx.Get("ctr", "c", &n); err != nil && !errors.Is(err, ErrNotFound) {
						return err
					}
					return tx.Put("ctr", "c", n+1)
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	var n int
	if err := s.View(func(tx Tx) error { return tx.Get("ctr", "c", &n) }); err != nil || n != 80 {
		t.Fatalf("counter = %d, %v; want 80 (lost updates)", n, err)
	}
}

// TestOpenInMemory: an in-memory store keeps what it was given while open,
// starts empty, and is not shared with another one.
func TestOpenInMemory(t *testing.T) {
	leak.Check(t)
	a, err := OpenInMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenInMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.Update(func(tx Tx) error {
		if err := tx.Insert("user", "alice", rec{"alice", 1}); err != nil {
			return err
		}
		return tx.Put("item", "k00", rec{N: 7})
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.View(func(tx Tx) error {
		items, err := All[rec](tx, "item", "")
		if err != nil || len(items) != 1 || items[0].N != 7 {
			return fmt.Errorf("All(item) = %+v, %v", items, err)
		}
		var r rec
		if err := tx.Get("user", "alice", &r); err != nil || r.N != 1 {
			return fmt.Errorf("get = %+v, %v", r, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.View(func(tx Tx) error {
		var r rec
		if err := tx.Get("user", "alice", &r); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("another in-memory store: get = %+v, %v; want ErrNotFound", r, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
