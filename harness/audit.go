package harness

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/harness/wait"
)

// WaitAudit waits until the coordinator's audit trail holds a record with
// action and outcome for which match returns true, and returns it.
func (c *Coordinator) WaitAudit(t testing.TB, action, outcome string, match func(audit.Record) bool) audit.Record {
	t.Helper()
	var (
		found audit.Record
		recs  []audit.Record
	)
	err := wait.Until(Timeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		got, err := c.Admin.Audit(ctx, action, outcome)
		if err != nil {
			return fmt.Errorf("reading the audit trail: %w", err)
		}
		recs = recs[:0]
		for _, r := range got {
			recs = append(recs, audit.Record{Seq: r.Seq, Source: r.Source, AuditEvent: r.AuditEvent, Prev: r.Prev, Hash: r.Hash})
		}
		for _, r := range recs {
			if match == nil || match(r) {
				found = r
				return nil
			}
		}
		return errNoMatch
	})
	if err != nil {
		t.Fatalf("harness: no %s/%s audit record matched (%v); have %d such records: %+v", action, outcome, err, len(recs), recs)
	}
	return found
}

var errNoMatch = errors.New("no record matches")
