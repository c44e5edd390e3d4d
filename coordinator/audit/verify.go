package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/wire"
)

// Verify walks the whole chain and checks every record's link, the head
// and every checkpoint (the stored ones and CheckpointFile). It returns
// the number of records checked and, if the chain does not hold, a
// *VerifyError naming the first bad record (errors.Is(err, ErrBroken)).
func (l *Log) Verify() (int, error) {
	var n int
	var verr *VerifyError
	err := l.db.View(func(tx store.Tx) error {
		var err error
		n, verr, err = l.verify(tx)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("audit.Verify: %w", err)
	}
	if verr != nil {
		return n, verr
	}
	return n, nil
}

// Report is Verify's answer as the local admin API carries it.
func (l *Log) Report() (wire.AuditVerifyResult, error) {
	n, err := l.Verify()
	res := wire.AuditVerifyResult{Records: n, OK: err == nil}
	var verr *VerifyError
	switch {
	case errors.As(err, &verr):
		res.FirstBad, res.Key, res.Reason = verr.Seq, verr.Key, verr.Reason
	case err != nil:
		return res, err
	}
	return res, nil
}

func (l *Log) verify(tx store.Tx) (int, *VerifyError, error) {
	bad := func(seq uint64, format string, a ...any) *VerifyError {
		return &VerifyError{Seq: seq, Key: seqKey(seq), Reason: fmt.Sprintf(format, a...)}
	}
	// The checkpoints first: each names a record number and its link.
	cps := map[uint64]Checkpoint{}
	var last Checkpoint // the furthest valid checkpoint
	var first *VerifyError
	note := func(v *VerifyError) {
		if first == nil || v.Seq < first.Seq {
			first = v
		}
	}
	err := tx.Scan(nsCheckpoint, "", func(k string, v []byte) error {
		var cp Checkpoint
		if err := store.Decode(v, &cp); err != nil || !l.validCheckpoint(cp) || k != seqKey(cp.Seq) {
			seq, _ := strconv.ParseUint(k, 10, 64)
			note(bad(seq, "the checkpoint stored at %s was altered", k))
			return nil
		}
		cps[cp.Seq] = cp
		if cp.Seq > last.Seq {
			last = cp
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	var head Checkpoint
	switch err := tx.Get(nsHead, headKey, &head); {
	case errors.Is(err, store.ErrNotFound):
		head = Checkpoint{}
	case err != nil:
		return 0, nil, err
	case !l.validCheckpoint(head):
		note(bad(head.Seq, "the head (record %d) was altered or written without the key", head.Seq))
		head = Checkpoint{}
	}
	if head.Seq > last.Seq {
		last = head
	}
	if l.file != "" {
		var fcp Checkpoint
		b, err := os.ReadFile(l.file)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return 0, nil, err
		case json.Unmarshal(b, &fcp) != nil || !l.validCheckpoint(fcp):
			note(bad(0, "the checkpoint file %s was altered", l.file))
		default:
			if prev, ok := cps[fcp.Seq]; ok && prev.Head != fcp.Head {
				note(bad(fcp.Seq, "record %d differs from the checkpoint file", fcp.Seq))
			}
			cps[fcp.Seq] = fcp
			if fcp.Seq > last.Seq {
				last = fcp
			}
		}
	}

	// Then the records, in order: the first that does not hold ends the walk.
	n, prev := uint64(0), ""
	err = tx.Scan(nsRecord, "", func(k string, v []byte) error {
		want := n + 1
		var r Record
		if err := store.Decode(v, &r); err != nil {
			note(bad(want, "record %d cannot be decoded", want))
			return store.ErrStop
		}
		ks, kerr := strconv.ParseUint(k, 10, 64)
		switch {
		case kerr != nil || k != seqKey(ks):
			note(bad(want, "a record is stored under the foreign key %q", k))
		case ks > want:
			note(bad(want, "record %d is missing (the next stored is %d)", want, ks))
		case r.Seq != ks:
			note(bad(want, "record %d holds record %d (moved or reordered)", want, r.Seq))
		case !l.linkOK(r):
			note(bad(want, "record %d was altered or written without the key (its link does not match)", want))
		case r.Prev != prev:
			note(bad(want, "record %d does not follow record %d (reordered, or a record before it was replaced)", want, want-1))
		default:
			if cp, ok := cps[want]; ok && cp.Head != r.Hash {
				note(bad(want, "record %d differs from the checkpoint of it", want))
				return store.ErrStop
			}
			n, prev = want, r.Hash
			return nil
		}
		return store.ErrStop
	})
	if err != nil {
		return int(n), nil, err
	}
	if first == nil && last.Seq > n {
		note(bad(n+1, "record %d is missing: the chain ends at %d but a checkpoint holds %d records (the tail was cut)", n+1, n, last.Seq))
	}
	if first == nil && head.Seq < n {
		note(bad(head.Seq+1, "record %d is past the head (%d records): appended without the key", head.Seq+1, head.Seq))
	}
	if first == nil && head.Seq == n && head.Head != prev {
		note(bad(n, "record %d is not the one the head names", n))
	}
	return int(n), first, nil
}

func (l *Log) linkOK(r Record) bool {
	want, err := l.link(r)
	return err == nil && hmac.Equal([]byte(r.Hash), []byte(want))
}

// adopt re-keys a chain written before keys: it checks the old plain
// SHA-256 chain, rewrites every record's link under the key (numbering
// them again from 1 if records were missing), and appends an audit.rekey
// record saying what it found. It runs before the Log is handed out.
func (l *Log) adopt() error {
	const batch = 500
	n, legacy, prevOld, prevNew, cursor := uint64(0), "ok", "", "", ""
	for done := false; !done; {
		err := l.db.Update(func(tx store.Tx) error {
			type old struct {
				key string
				rec Record
			}
			var recs []old
			err := tx.Scan(nsRecord, "", func(k string, v []byte) error {
				if k <= cursor {
					return nil
				}
				var r Record
				if err := store.Decode(v, &r); err != nil {
					return fmt.Errorf("record under %s: %w", k, err)
				}
				recs = append(recs, old{k, r})
				if len(recs) == batch {
					return store.ErrStop
				}
				return nil
			})
			if err != nil {
				return err
			}
			done = len(recs) < batch
			for _, o := range recs {
				r := o.rec
				if legacy == "ok" {
					if d, derr := legacyDigest(r); o.key != seqKey(n+1) || r.Seq != n+1 || r.Prev != prevOld || derr != nil || d != r.Hash {
						legacy = fmt.Sprintf("broken at record %d", n+1)
					}
				}
				prevOld = r.Hash
				r.Seq, r.Prev = n+1, prevNew
				if r.Hash, err = l.link(r); err != nil {
					return err
				}
				// The new key is never an unprocessed record's: those lie
				// past o.key, and n+1 <= o.key.
				if o.key != seqKey(r.Seq) {
					if err := tx.Delete(nsRecord, o.key); err != nil {
						return err
					}
				}
				if err := tx.Put(nsRecord, seqKey(r.Seq), r); err != nil {
					return err
				}
				n, prevNew, cursor = r.Seq, r.Hash, o.key
			}
			h := l.checkpoint(n, prevNew)
			if n > 0 {
				if err := tx.Put(nsCheckpoint, seqKey(n), h); err != nil {
					return err
				}
			}
			return tx.Put(nsHead, headKey, h)
		})
		if err != nil {
			return fmt.Errorf("re-keying the legacy chain: %w", err)
		}
	}
	_, err := l.append("coordinator", []wire.AuditEvent{{Actor: "coordinator", Action: "audit.rekey", Outcome: OK,
		Fields: map[string]string{"records": strconv.FormatUint(n, 10), "legacy_chain": legacy}}})
	return err
}

// legacyDigest is the link of a record written before keys.
func legacyDigest(r Record) (string, error) {
	r.Hash = ""
	b, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
