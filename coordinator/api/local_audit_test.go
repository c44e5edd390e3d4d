package api_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/cli/auditcmd"
	"github.com/peerdesk/peerdesk/coordinator/adminclient"
	"github.com/peerdesk/peerdesk/coordinator/api"
	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/wire"
)

// TestL3AuditTamperOverSocket: `peerdesk admin audit verify|export` through
// the local admin socket: the untouched chain verifies, the export streams,
// and after an edit verify fails naming the record; each call is audited.
func TestL3AuditTamperOverSocket(t *testing.T) {
	leak.Check(t)
	db, err := store.OpenInMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	trail := audit.New(db, nil)
	for i := range 4 {
		if _, err := trail.Append("coordinator", wire.AuditEvent{Actor: "alice", Action: fmt.Sprint("a", i+1), Outcome: audit.OK}); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: api.LocalAuditHandler(trail, nil)}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }() //nolint:errcheck // ErrServerClosed at Close
	defer func() { srv.Close(); <-done }()

	ctx := context.Background()
	c := adminclient.New(sock)
	var out bytes.Buffer
	if err := auditcmd.Run(ctx, c, []string{"verify"}, &out); err != nil {
		t.Fatalf("verify: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := auditcmd.Run(ctx, c, []string{"export", "-format", "json", "-since", "2000-01-01T00:00:00Z"}, &out); err != nil ||
		!strings.Contains(out.String(), `"action":"a4"`) {
		t.Fatalf("export: %v\n%s", err, out.String())
	}
	if err := c.AuditExport(ctx, &out, "xml", time.Time{}); err == nil {
		t.Fatal("an xml export was accepted")
	}
	if err := db.Update(func(tx store.Tx) error {
		var r audit.Record
		key := fmt.Sprintf("%020d", 2)
		if err := tx.Get("audit", key, &r); err != nil {
			return err
		}
		r.Actor = "nobody"
		return tx.Put("audit", key, r)
	}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := auditcmd.Run(ctx, c, []string{"verify"}, &out); !errors.Is(err, auditcmd.ErrBroken) || !strings.Contains(out.String(), "first bad record 2") {
		t.Fatalf("verify after an edit: %v\n%s", err, out.String())
	}
	recs, err := trail.List(audit.Query{Action: "audit.verify"})
	if err != nil || len(recs) != 2 || recs[0].Outcome != audit.OK || recs[1].Outcome != audit.Denied || recs[1].Actor != "local" {
		t.Fatalf("verify calls audited as %+v, %v", recs, err)
	}
	if recs, _ := trail.List(audit.Query{Action: "audit.export"}); len(recs) != 1 {
		t.Fatalf("export calls audited: %d", len(recs))
	}
}
