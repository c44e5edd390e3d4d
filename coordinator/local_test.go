package coordinator_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator"
	"github.com/peerdesk/peerdesk/coordinator/adminclient"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
)

// TestLocalSocketRoutes: a running coordinator's admin socket serves the
// audit list, verify and export side by side (a subtree pattern for the
// latter two once made the mux redirect the list's own path), and the
// status.
func TestLocalSocketRoutes(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole coordinator: skipped in -short")
	}
	leak.Check(t)
	c, err := coordinator.New(coordinator.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", STUNListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := wait.Recv(t, "Run to return", done); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	admin := adminclient.New(c.SocketPath())
	wait.ForErr(t, "the admin socket to answer", func() error { _, err := admin.Status(ctx); return err })
	if _, err := admin.CreateToken(ctx, time.Hour, "a record to list"); err != nil {
		t.Fatal(err)
	}
	recs, err := admin.Audit(ctx, "enrollment-token.create", "")
	if err != nil || len(recs) != 1 {
		t.Fatalf("audit list: %d records, %v", len(recs), err)
	}
	if v, err := admin.AuditVerify(ctx); err != nil || !v.OK {
		t.Fatalf("audit verify: %+v, %v", v, err)
	}
	var out bytes.Buffer
	if err := admin.AuditExport(ctx, &out, "json", time.Time{}); err != nil || !bytes.Contains(out.Bytes(), []byte("enrollment-token.create")) {
		t.Fatalf("audit export: %v\n%s", err, out.String())
	}
}
