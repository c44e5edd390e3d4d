package audit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"tailscale.com/tstest"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/wire"
)

var testKey = bytes.Repeat([]byte{7}, 32)

func memDB(t *testing.T) *store.Badger {
	t.Helper()
	db, err := store.OpenInMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func testClock() *tstest.Clock {
	return tstest.NewClock(tstest.ClockOpts{Start: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)})
}

func setup(t *testing.T) (*Log, *store.Badger) {
	t.Helper()
	db := memDB(t)
	return New(db, testClock().Now), db
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

// tamperEnv is a trail of 10 records with checkpoints every 4 and a
// checkpoint file, and the heads it had along the way.
type tamperEnv struct {
	db    *store.Badger
	cfg   Config
	heads map[uint64]Checkpoint
}

func newTamperEnv(t *testing.T) *tamperEnv {
	t.Helper()
	c := testClock()
	e := &tamperEnv{db: memDB(t), heads: map[uint64]Checkpoint{},
		cfg: Config{Key: testKey, Now: c.Now, CheckpointEvery: 4, CheckpointFile: filepath.Join(t.TempDir(), "audit.checkpoint")}}
	l, err := Open(e.db, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		c.Advance(time.Minute)
		if _, err := l.Append("coordinator", wire.AuditEvent{Actor: "alice", Action: "a" + strconv.Itoa(i+1), Outcome: OK}); err != nil {
			t.Fatal(err)
		}
		var h Checkpoint
		if err := e.db.View(func(tx store.Tx) error { return tx.Get(nsHead, headKey, &h) }); err != nil {
			t.Fatal(err)
		}
		e.heads[h.Seq] = h
	}
	if n, err := l.Verify(); err != nil || n != 10 {
		t.Fatalf("untouched trail: Verify = %d, %v", n, err)
	}
	return e
}

func get(tx store.Tx, seq uint64) (Record, error) {
	var r Record
	return r, tx.Get(nsRecord, seqKey(seq), &r)
}

// rewrite re-links records from..to with link (not the log's key) and
// writes a head and checkpoints to match, as someone who can write the
// store but does not hold the key would.
func rewrite(tx store.Tx, from, to uint64, edit func(*Record), link func(Record) string, mac func(Checkpoint) string) error {
	prev := ""
	if from > 1 {
		r, err := get(tx, from-1)
		if err != nil {
			return err
		}
		prev = r.Hash
	}
	for s := from; s <= to; s++ {
		r, err := get(tx, s)
		if err != nil {
			return err
		}
		if s == from {
			edit(&r)
		}
		r.Prev = prev
		r.Hash = link(r)
		if err := tx.Put(nsRecord, seqKey(s), r); err != nil {
			return err
		}
		prev = r.Hash
		cp := Checkpoint{Seq: s, Head: prev, Time: time.Now().UTC()}
		cp.MAC = mac(cp)
		if err := tx.Put(nsHead, headKey, cp); err != nil {
			return err
		}
		if s%4 == 0 {
			if err := tx.Put(nsCheckpoint, seqKey(s), cp); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestL3AuditTamper: an edit, a deleted record, a cut tail (also one with
// the head rolled back and the checkpoints after it removed), a reordering,
// and a chain rewritten from a record on without the key (the old plain
// SHA-256 chain could be) each fail Verify, which names the first bad
// record; Verify through a second Log (the admin command's view) agrees.
func TestL3AuditTamper(t *testing.T) {
	leak.Check(t)
	otherKey := bytes.Repeat([]byte{9}, 32)
	forger := &Log{key: otherKey}
	for _, tc := range []struct {
		name    string
		tamper  func(e *tamperEnv, tx store.Tx) error
		bad     uint64
		records int
		reason  string
	}{
		{"edit", func(e *tamperEnv, tx store.Tx) error {
			r, err := get(tx, 5)
			if err != nil {
				return err
			}
			r.Actor = "nobody"
			return tx.Put(nsRecord, seqKey(5), r)
		}, 5, 4, "altered"},
		{"delete middle", func(e *tamperEnv, tx store.Tx) error { return tx.Delete(nsRecord, seqKey(5)) }, 5, 4, "missing"},
		{"delete first", func(e *tamperEnv, tx store.Tx) error { return tx.Delete(nsRecord, seqKey(1)) }, 1, 0, "missing"},
		{"truncate tail", func(e *tamperEnv, tx store.Tx) error {
			return errors.Join(tx.Delete(nsRecord, seqKey(9)), tx.Delete(nsRecord, seqKey(10)))
		}, 9, 8, "tail was cut"},
		{"truncate tail, head rolled back, checkpoints removed", func(e *tamperEnv, tx store.Tx) error {
			for s := uint64(7); s <= 10; s++ {
				if err := tx.Delete(nsRecord, seqKey(s)); err != nil {
					return err
				}
			}
			return errors.Join(tx.Delete(nsCheckpoint, seqKey(8)), tx.Put(nsHead, headKey, e.heads[6]))
		}, 7, 6, "tail was cut"},
		{"truncate everything", func(e *tamperEnv, tx store.Tx) error {
			for s := uint64(1); s <= 10; s++ {
				if err := tx.Delete(nsRecord, seqKey(s)); err != nil {
					return err
				}
			}
			return errors.Join(tx.Delete(nsHead, headKey), tx.Delete(nsCheckpoint, seqKey(4)), tx.Delete(nsCheckpoint, seqKey(8)))
		}, 1, 0, "tail was cut"},
		{"reorder", func(e *tamperEnv, tx store.Tx) error {
			r3, err3 := get(tx, 3)
			r4, err4 := get(tx, 4)
			return errors.Join(err3, err4, tx.Put(nsRecord, seqKey(3), r4), tx.Put(nsRecord, seqKey(4), r3))
		}, 3, 2, "moved or reordered"},
		{"reorder and renumber", func(e *tamperEnv, tx store.Tx) error {
			r3, err3 := get(tx, 3)
			r4, err4 := get(tx, 4)
			r3.Seq, r4.Seq = 4, 3
			return errors.Join(err3, err4, tx.Put(nsRecord, seqKey(3), r4), tx.Put(nsRecord, seqKey(4), r3))
		}, 3, 2, "altered"},
		{"rewrite the chain with plain SHA-256", func(e *tamperEnv, tx store.Tx) error {
			return rewrite(tx, 5, 10, func(r *Record) { r.Outcome = Denied }, func(r Record) string {
				d, _ := legacyDigest(r)
				return d
			}, func(cp Checkpoint) string { return "" })
		}, 5, 4, "written without the key"},
		{"rewrite the chain with another key", func(e *tamperEnv, tx store.Tx) error {
			return rewrite(tx, 5, 10, func(r *Record) { r.Actor = "mallory" }, func(r Record) string {
				d, _ := forger.link(r)
				return d
			}, forger.checkpointMAC)
		}, 5, 4, "written without the key"},
		{"append without the key", func(e *tamperEnv, tx store.Tx) error {
			r, err := get(tx, 10)
			if err != nil {
				return err
			}
			r.Seq, r.Prev, r.Action = 11, r.Hash, "forged"
			r.Hash, _ = forger.link(r)
			return tx.Put(nsRecord, seqKey(11), r)
		}, 11, 10, "written without the key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTamperEnv(t)
			if err := e.db.Update(func(tx store.Tx) error { return tc.tamper(e, tx) }); err != nil {
				t.Fatal(err)
			}
			// A fresh Log on the same store and key: what `peerdesk admin
			// audit verify` and a restarted coordinator see.
			l, err := Open(e.db, e.cfg)
			if err != nil {
				t.Fatal(err)
			}
			n, err := l.Verify()
			var verr *VerifyError
			if !errors.Is(err, ErrBroken) || !errors.As(err, &verr) {
				t.Fatalf("Verify after %s = %d, %v; want ErrBroken", tc.name, n, err)
			}
			if verr.Seq != tc.bad || n != tc.records || !strings.Contains(verr.Reason, tc.reason) {
				t.Fatalf("Verify after %s: first bad record %d (%q), %d good; want %d (%q), %d", tc.name, verr.Seq, verr.Reason, n, tc.bad, tc.reason, tc.records)
			}
			res, err := l.Report()
			if err != nil || res.OK || res.FirstBad != tc.bad || res.Key != seqKey(tc.bad) || res.Reason != verr.Reason {
				t.Fatalf("Report = %+v, %v", res, err)
			}
		})
	}
}

// TestL3CheckpointOnClose: Close stores a checkpoint, so a tail cut after
// a clean shutdown is seen even between periodic checkpoints.
func TestL3CheckpointOnClose(t *testing.T) {
	leak.Check(t)
	db := memDB(t)
	cfg := Config{Key: testKey, Now: testClock().Now, CheckpointEvery: 1000}
	l, err := Open(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := l.Append("coordinator", wire.AuditEvent{Action: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	var h3 Checkpoint
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx store.Tx) error {
		// Replay the genuine head the store held after record 3, and cut
		// records 4 and 5.
		var h Checkpoint
		if err := tx.Get(nsHead, headKey, &h); err != nil {
			return err
		}
		r3, err := get(tx, 3)
		if err != nil {
			return err
		}
		h3 = l.checkpoint(3, r3.Hash) // what the head said after record 3
		return errors.Join(tx.Put(nsHead, headKey, h3), tx.Delete(nsRecord, seqKey(4)), tx.Delete(nsRecord, seqKey(5)))
	}); err != nil {
		t.Fatal(err)
	}
	var verr *VerifyError
	if _, err := l.Verify(); !errors.As(err, &verr) || verr.Seq != 4 {
		t.Fatalf("Verify after a cut behind the close checkpoint = %v, want record 4", err)
	}
}

func TestOpenRefusesABadKey(t *testing.T) {
	t.Parallel()
	if _, err := Open(memDB(t), Config{Key: []byte("short")}); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}

// TestL3ForwardedRecords: an agent's batch is stamped with the
// coordinator's receipt time and the device as actor (what the agent
// claimed kept as fields), and a device over its budget gets
// ErrRateLimited with nothing of the batch written.
func TestL3ForwardedRecords(t *testing.T) {
	leak.Check(t)
	c := testClock()
	db := memDB(t)
	l, err := Open(db, Config{Key: testKey, Now: c.Now, Forward: DefaultForward})
	if err != nil {
		t.Fatal(err)
	}
	recv := time.Date(2026, 11, 21, 13, 0, 0, 0, time.UTC)
	claimed := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := func(n int) []wire.AuditEvent {
		out := make([]wire.AuditEvent, n)
		for i := range out {
			out[i] = wire.AuditEvent{Time: claimed, Actor: "admin", Action: "peer.sysinfo", Outcome: OK,
				Fields: map[string]string{"claimed_actor": "forged", "node": "n1"}}
		}
		return out
	}
	if err := l.AppendForwarded("dev-1", batch(1), recv); err != nil {
		t.Fatal(err)
	}
	recs, err := l.List(Query{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("List = %v, %v", recs, err)
	}
	r := recs[0]
	if r.Source != "agent:dev-1" || r.Actor != "device:dev-1" || !r.Time.Equal(recv) ||
		r.Fields["claimed_actor"] != "admin" || r.Fields["claimed_time"] != claimed.Format(time.RFC3339Nano) || r.Fields["node"] != "n1" {
		t.Fatalf("forwarded record = %+v", r)
	}

	if err := l.AppendForwarded("dev-1", batch(MaxForwardBatch+1), recv); !errors.Is(err, ErrBatch) {
		t.Fatalf("an oversized batch: %v", err)
	}
	// Use up the burst, then one more batch is refused whole.
	sent := 1
	for sent+MaxForwardBatch <= DefaultForward.Burst {
		if err := l.AppendForwarded("dev-1", batch(MaxForwardBatch), recv); err != nil {
			t.Fatalf("within the burst (%d sent): %v", sent, err)
		}
		sent += MaxForwardBatch
	}
	before, _ := l.List(Query{Limit: 100000})
	if err := l.AppendForwarded("dev-1", batch(MaxForwardBatch), recv); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("over the budget: %v, want ErrRateLimited", err)
	}
	after, _ := l.List(Query{Limit: 100000})
	if len(after) != len(before) {
		t.Fatalf("a refused batch wrote %d records", len(after)-len(before))
	}
	if err := l.AppendForwarded("dev-2", batch(MaxForwardBatch), recv); err != nil {
		t.Fatalf("another device was limited by dev-1: %v", err)
	}
	c.Advance(DefaultForward.Every * MaxForwardBatch)
	if err := l.AppendForwarded("dev-1", batch(MaxForwardBatch), recv); err != nil {
		t.Fatalf("after the budget refilled: %v", err)
	}
	if _, err := l.Verify(); err != nil {
		t.Fatal(err)
	}
}

func TestExport(t *testing.T) {
	leak.Check(t)
	c := testClock()
	l := New(memDB(t), c.Now)
	start := c.PeekNow()
	for i, a := range []string{"one", "=cmd()", "three"} {
		c.Advance(time.Hour)
		if _, err := l.Append("coordinator", wire.AuditEvent{Actor: a, Action: "x" + strconv.Itoa(i), Outcome: OK, Fields: map[string]string{"k": "v"}}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := l.Export(&buf, wire.AuditFormatCSV, time.Time{}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 4 || strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") {
		t.Fatalf("csv = %q, %v", rows, err)
	}
	if rows[2][3] != "'=cmd()" || rows[1][8] != `{"k":"v"}` || rows[3][0] != "3" {
		t.Fatalf("csv rows = %q", rows)
	}
	buf.Reset()
	if err := l.Export(&buf, wire.AuditFormatJSON, start.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	var recs []Record
	if err := json.Unmarshal(buf.Bytes(), &recs); err != nil || len(recs) != 2 || recs[0].Seq != 2 || recs[1].Actor != "three" {
		t.Fatalf("json since = %+v, %v\n%s", recs, err, buf.Bytes())
	}
	buf.Reset()
	if err := l.Export(&buf, wire.AuditFormatJSON, start.Add(24*time.Hour)); err != nil || strings.TrimSpace(buf.String()) != "[\n]" {
		t.Fatalf("empty json export = %q, %v", buf.String(), err)
	}
	if err := l.Export(&buf, "xml", time.Time{}); !errors.Is(err, ErrFormat) {
		t.Fatalf("xml: %v", err)
	}
}

// TestAdoptLegacy: a store written before keys does not verify unless
// adopted (only when the key is new), then it is re-keyed; an audit.rekey record says whether the old chain
// held.
func TestAdoptLegacy(t *testing.T) {
	leak.Check(t)
	for _, broken := range []bool{false, true} {
		db := memDB(t)
		prev := ""
		for s := uint64(1); s <= 5; s++ {
			if broken && s == 3 {
				continue // a record lost before the upgrade
			}
			r := Record{Seq: s, Source: "coordinator", AuditEvent: wire.AuditEvent{Action: "old", Time: time.Unix(int64(s), 0).UTC()}, Prev: prev}
			r.Hash, _ = legacyDigest(r)
			prev = r.Hash
			if err := db.Update(func(tx store.Tx) error {
				return errors.Join(tx.Put(nsRecord, seqKey(s), r), tx.Put(nsHead, headKey, map[string]any{"seq": s, "hash": r.Hash}))
			}); err != nil {
				t.Fatal(err)
			}
		}
		cfg := Config{Key: testKey, Now: testClock().Now}
		l, err := Open(db, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var verr *VerifyError
		if _, err := l.Verify(); !errors.As(err, &verr) || verr.Seq != 1 {
			t.Fatalf("a legacy chain with a key in use: Verify = %v, want record 1 bad", err)
		}
		cfg.AdoptLegacy = true
		l, err = Open(db, cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := 6
		if broken {
			want = 5
		}
		if n, err := l.Verify(); err != nil || n != want {
			t.Fatalf("after adoption (broken %v): Verify = %d, %v", broken, n, err)
		}
		recs, _ := l.List(Query{Action: "audit.rekey"})
		legacy := "ok"
		if broken {
			legacy = "broken at record 3"
		}
		if len(recs) != 1 || recs[0].Fields["legacy_chain"] != legacy {
			t.Fatalf("rekey record = %+v", recs)
		}
		cfg.AdoptLegacy = false
		if _, err := Open(db, cfg); err != nil {
			t.Fatalf("reopening the adopted chain: %v", err)
		}
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
