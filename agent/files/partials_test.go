package files

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/wire"
	"tailscale.com/tstest"
)

// begin starts an upload of b to p and sends its first chunk.
func (e *env) begin(p string, b []byte) wire.UploadState {
	e.t.Helper()
	var st wire.UploadState
	if err := e.post(wire.PeerPathFilesUploadStart, wire.UploadStart{Path: p, Size: int64(len(b)), SHA256: sum(b)}, &st); err != nil {
		e.t.Fatalf("start %s: %v", p, err)
	}
	if err := e.chunk(st.ID, st.Offset, b[st.Offset:min(st.Offset+int64(st.Chunk), st.Size)], &st); err != nil {
		e.t.Fatalf("chunk of %s: %v", p, err)
	}
	return st
}

func exists(t *testing.T, p string) bool {
	t.Helper()
	_, err := os.Lstat(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}

func listedIDs(t *testing.T, list string) string {
	t.Helper()
	b, err := os.ReadFile(list)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAbandonedUploadExpires: an upload that takes no chunk for the TTL
// is forgotten and its partial file removed (audited), at the next upload
// start; one inside the TTL is kept.
func TestAbandonedUploadExpires(t *testing.T) {
	leak.Check(t)
	root, list := t.TempDir(), filepath.Join(t.TempDir(), "uploads.json")
	clk := tstest.NewClock(tstest.ClockOpts{Start: time.Now()})
	e := startWith(t, Config{Root: root, Now: clk.Now, PartialsFile: list, PartialTTL: time.Hour})

	b := bytes.Repeat([]byte("left behind "), wire.UploadChunk/6)
	left := e.begin("/left.bin", b)
	part := filepath.Join(root, partName("left.bin", left.ID))
	if !exists(t, part) {
		t.Fatalf("no partial file %s after a chunk", part)
	}
	if !strings.Contains(listedIDs(t, list), left.ID) {
		t.Fatalf("the upload is not listed in %s", list)
	}

	clk.Advance(59 * time.Minute)
	e.begin("/other.bin", []byte("x")) // an upload start sweeps
	if !exists(t, part) {
		t.Fatal("the partial was removed before its TTL")
	}

	clk.Advance(2 * time.Minute)
	e.begin("/third.bin", []byte("y"))
	if exists(t, part) {
		t.Fatal("the abandoned upload's partial is still there after its TTL")
	}
	var st wire.UploadState
	if err := e.chunk(left.ID, left.Offset, b[left.Offset:], &st); code(err) != wire.CodeNotFound {
		t.Errorf("a chunk of the expired upload: %v; want %s", err, wire.CodeNotFound)
	}
	evs := e.audit.find("files.upload.expired")
	if len(evs) != 1 || evs[0].Fields["path"] != "/left.bin" || evs[0].Actor != "alice" || evs[0].Outcome != "ok" ||
		evs[0].Fields["at"] != itoa(int64(wire.UploadChunk)) {
		t.Errorf("audit of the expiry: %+v; want one record of /left.bin by alice at %d", evs, wire.UploadChunk)
	}
	if strings.Contains(listedIDs(t, list), left.ID) {
		t.Error("the expired upload is still listed")
	}
}

// TestPartialOfEarlierRunExpires: after a restart the list finds what the
// earlier run left: a fresh partial is kept and resumes where it stood,
// an expired one is removed when the handler opens.
func TestPartialOfEarlierRunExpires(t *testing.T) {
	leak.Check(t)
	root, list := t.TempDir(), filepath.Join(t.TempDir(), "uploads.json")
	clk := tstest.NewClock(tstest.ClockOpts{Start: time.Now()})
	cfg := Config{Root: root, Now: clk.Now, PartialsFile: list, PartialTTL: time.Hour}
	first := startWith(t, cfg)
	a := bytes.Repeat([]byte("resumed "), wire.UploadChunk/4)
	b := bytes.Repeat([]byte("forgotten "), wire.UploadChunk/5)
	sa, sb := first.begin("/a.bin", a), first.begin("/b.bin", b)
	partB := filepath.Join(root, partName("b.bin", sb.ID))

	// The agent restarts half an hour later: both partials are fresh.
	clk.Advance(30 * time.Minute)
	second := startWith(t, cfg)
	if !exists(t, partB) {
		t.Fatal("a fresh partial of the earlier run was removed")
	}
	var st wire.UploadState
	if err := second.post(wire.PeerPathFilesUploadStart, wire.UploadStart{Path: "/a.bin", Size: int64(len(a)), SHA256: sum(a)}, &st); err != nil {
		t.Fatal(err)
	}
	if st.ID != sa.ID || st.Offset != sa.Offset {
		t.Fatalf("resumed after the restart at %d (id %s); want %d (id %s)", st.Offset, st.ID, sa.Offset, sa.ID)
	}

	// Two hours later the agent restarts again: /b.bin was never resumed.
	clk.Advance(2 * time.Hour)
	third := startWith(t, cfg)
	if exists(t, partB) {
		t.Fatal("the earlier run's partial is still there after its TTL")
	}
	if evs := third.audit.find("files.upload.expired"); len(evs) == 0 || !hasPath(evs, "/b.bin") {
		t.Errorf("audit: %+v; want the expiry of /b.bin", evs)
	}
	if strings.Contains(listedIDs(t, list), sb.ID) {
		t.Error("the removed partial is still listed")
	}
}

func hasPath(evs []wire.AuditEvent, p string) bool {
	for _, ev := range evs {
		if ev.Fields["path"] == p {
			return true
		}
	}
	return false
}

// FuzzLoadPartials: whatever the list file holds, opening the handler
// neither fails nor lists an entry whose path is not clean or whose id
// cannot name a partial.
func FuzzLoadPartials(f *testing.F) {
	f.Add([]byte(`[{"id":"0123456789abcdef0123456789abcdef","technician":"alice","path":"/a.bin"}]`))
	f.Add([]byte(`[{"id":"short","technician":"bob","path":"/../etc/passwd"}]`))
	f.Add([]byte(`{"id":1}`))
	f.Add([]byte(`[{"id":"0123456789abcdef","path":"/"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		list := filepath.Join(dir, "uploads.json")
		if err := os.WriteFile(list, data, 0o600); err != nil {
			t.Fatal(err)
		}
		h, err := New(Config{Root: dir, Audit: &records{}, PartialsFile: list})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		h.uploads.mu.Lock()
		defer h.uploads.mu.Unlock()
		for _, l := range h.uploads.dormant {
			if _, err := wire.CleanFilePath(l.Path); err != nil {
				t.Errorf("listed %q: %v", l.Path, err)
			}
			if _, err := l.partWire(); err != nil {
				t.Errorf("listed %+v: %v", l, err)
			}
		}
	})
}
