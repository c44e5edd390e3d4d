package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/wire"
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
		got, err := c.auditList(ctx, action, outcome)
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

// auditList lists the audit records with action and outcome, as
// c.Admin.Audit (`peerdesk admin audit`) would, but through the admin
// handler in process: the coordinator's socket answers that list with 404
// since it serves /local/audit/ as a subtree (coordinator.go, since bad95b4), which redirects
// /local/audit to /local/audit/ and so past the list. Once the socket
// serves the list again this can be c.Admin.Audit.
func (c *Coordinator) auditList(ctx context.Context, action, outcome string) ([]wire.AuditRecord, error) {
	q := url.Values{"limit": {"10000"}}
	if action != "" {
		q.Set("action", action)
	}
	if outcome != "" {
		q.Set("outcome", outcome)
	}
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, wire.LocalPathAudit+"?"+q.Encode(), nil)
	w := httptest.NewRecorder()
	c.API().LocalHandler().ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		return nil, fmt.Errorf("%d: %s", w.Code, w.Body.Bytes())
	}
	var recs []wire.AuditRecord
	if err := json.Unmarshal(w.Body.Bytes(), &recs); err != nil {
		return nil, err
	}
	return recs, nil
}
