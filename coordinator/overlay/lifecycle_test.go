package overlay_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/pki"
	"github.com/peerdesk/peerdesk/policy"
	zlog "github.com/rs/zerolog/log"
	"go.uber.org/goleak"
)

// TestLifecycle: cancelling Start's context stops everything the control
// plane started, and Headscale's global logger now writes to ours.
func TestLifecycle(t *testing.T) {
	// Goroutines started by packages' init or earlier tests are not ours.
	before := goleak.IgnoreCurrent()
	dir := t.TempDir()
	id, err := pki.LoadOrCreate(dir+"/pki", []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&syncWriter{b: &buf}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ov, err := overlay.New(overlay.Config{
		Dir: dir + "/overlay", ServerURL: "https://127.0.0.1:1", DERPIPv4: "127.0.0.1", DERPPort: 1,
		DERPCertSHA256: id.LeafSHA256(), STUNAddr: "127.0.0.1:0", Policy: policy.OverlayACL(), Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := ov.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ov.CreateAuthKey(overlay.KeyOptions{Tags: []string{"tag:peerdesk-agent"}}); err != nil {
		t.Fatal(err)
	}
	zlog.Info().Str("probe", "x").Msg("headscale-global-logger-probe")
	cancel()
	if err := ov.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "headscale-global-logger-probe") {
		t.Fatalf("zerolog's global logger does not reach the injected logger; got:\n%s", buf.String())
	}
	goleak.VerifyNone(t, before,
		// Headscale's registration cache (golang-lru/v2 expirable) starts a
		// cleaner goroutine that its library never stops ("done channel is
		// never closed", expirable_lru.go): one per coordinator lifetime.
		goleak.IgnoreAnyFunction("github.com/hashicorp/golang-lru/v2/expirable.NewLRU[...].func1"),
	)
}

type syncWriter struct{ b *bytes.Buffer }

func (w *syncWriter) Write(p []byte) (int, error) { return w.b.Write(p) }

// TestLogsFollowNewestLogger: each control plane started in the process
// routes Headscale's logs to its own logger without writing zerolog's
// globals again (a previous one's goroutines may still read them), and
// Headscale builds a debug record only when that logger wants it.
func TestLogsFollowNewestLogger(t *testing.T) {
	open := func(level slog.Level) *bytes.Buffer {
		t.Helper()
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&syncWriter{b: &buf}, &slog.HandlerOptions{Level: level}))
		dir := t.TempDir()
		ov, err := overlay.New(overlay.Config{
			Dir: dir, ServerURL: "https://127.0.0.1:1", DERPIPv4: "127.0.0.1", DERPPort: 1,
			STUNAddr: "127.0.0.1:0", Policy: policy.OverlayACL(), Logger: log,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := ov.Close(); err != nil {
				t.Error(err)
			}
		})
		return &buf
	}

	first := open(slog.LevelInfo)
	if zlog.Debug().Enabled() {
		t.Error("a debug record is built for a logger that drops debug records")
	}
	second := open(slog.LevelDebug)
	if !zlog.Debug().Enabled() {
		t.Error("no debug record is built for a logger that wants them")
	}
	if zlog.Trace().Enabled() {
		t.Error("a trace record is built")
	}
	zlog.Info().Msg("headscale-second-probe")
	if !strings.Contains(second.String(), "headscale-second-probe") {
		t.Errorf("the newest logger did not get Headscale's record; got:\n%s", second.String())
	}
	if strings.Contains(first.String(), "headscale-second-probe") {
		t.Errorf("an earlier logger got Headscale's record:\n%s", first.String())
	}
}
