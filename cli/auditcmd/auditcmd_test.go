package auditcmd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/cli/auditcmd"
	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/wire"
)

// local is a Client over a Log in this process (the socket round trip is
// coordinator/api's TestLocalAuditOverSocket).
type local struct{ l *audit.Log }

func (c local) AuditVerify(context.Context) (wire.AuditVerifyResult, error) { return c.l.Report() }
func (c local) AuditExport(_ context.Context, w io.Writer, format string, since time.Time) error {
	return c.l.Export(w, format, since)
}

// TestL3AuditTamperCLI: after a record is edited, `audit verify` fails
// and names it; untouched, it passes; export honours -format and -since.
func TestL3AuditTamperCLI(t *testing.T) {
	leak.Check(t)
	db, err := store.OpenInMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	l := audit.New(db, func() time.Time { return now })
	for i := range 5 {
		now = now.Add(time.Hour)
		if _, err := l.Append("coordinator", wire.AuditEvent{Actor: "alice", Action: fmt.Sprint("a", i+1), Outcome: audit.OK}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	var out bytes.Buffer
	if err := auditcmd.Run(ctx, local{l}, []string{"verify"}, &out); err != nil || !strings.Contains(out.String(), "ok: 5 records") {
		t.Fatalf("verify untouched: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := auditcmd.Run(ctx, local{l}, []string{"export", "-format", "csv", "-since", "2026-12-01T03:00:00Z"}, &out); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[1], "3,") {
		t.Fatalf("csv export since record 3:\n%s", out.String())
	}
	for _, bad := range [][]string{{}, {"rewrite"}, {"export", "-format", "xml"}, {"export", "-since", "yesterday"}} {
		if err := auditcmd.Run(ctx, local{l}, bad, io.Discard); err == nil {
			t.Errorf("audit %q succeeded", bad)
		}
	}

	if err := db.Update(func(tx store.Tx) error {
		var r audit.Record
		key := fmt.Sprintf("%020d", 3)
		if err := tx.Get("audit", key, &r); err != nil {
			return err
		}
		r.Outcome = audit.Denied
		return tx.Put("audit", key, r)
	}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = auditcmd.Run(ctx, local{l}, []string{"verify"}, &out)
	if !errors.Is(err, auditcmd.ErrBroken) || !strings.Contains(err.Error(), "record 3") || !strings.Contains(out.String(), "first bad record 3") {
		t.Fatalf("verify after an edit: %v\n%s", err, out.String())
	}
}
