package harness

import (
	"context"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/audit"
)

// WaitAudit waits until the coordinator's audit trail holds a record with
// action and outcome for which match returns true, and returns it.
func (c *Coordinator) WaitAudit(t testing.TB, action, outcome string, match func(audit.Record) bool) audit.Record {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		recs, err := c.Admin.Audit(ctx, action, outcome)
		cancel()
		if err != nil {
			t.Fatalf("harness: reading the audit trail: %v", err)
		}
		for _, r := range recs {
			if match == nil || match(r) {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("harness: no %s/%s audit record matched; have %d such records: %+v", action, outcome, len(recs), recs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
