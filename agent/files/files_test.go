package files

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/harness/leak"

	"github.com/peerdesk/peerdesk/wire"
)

func write(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

func random(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // never fails
	return b
}

// TestListAndDownload: a listing has sizes, times, permissions, folders
// first and links flagged; a download from 0 or from an offset carries the
// whole file's SHA-256 in its trailer; a resumed download of a changed
// file is refused; each download is audited with its path and size.
func TestListAndDownload(t *testing.T) {
	e := start(t)
	data := random(t, 300<<10)
	write(t, filepath.Join(e.root, "docs", "report.bin"), data)
	write(t, filepath.Join(e.root, "a.txt"), []byte("hello"))
	if err := os.Symlink("a.txt", filepath.Join(e.root, "link")); err != nil {
		t.Fatal(err)
	}
	var l wire.FileList
	if err := e.call(http.MethodGet, wire.PeerPathFilesList, url.Values{"path": {"/"}}, nil, nil, &l); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range l.Entries {
		line := f.Name + " " + f.Mode
		if !f.IsDir {
			line += " " + itoa(f.Size) // a folder's size depends on the filesystem
		}
		got = append(got, line)
		if f.ModTime.IsZero() {
			t.Errorf("%s: no modification time", f.Name)
		}
	}
	want := []string{"docs drwxr-xr-x", "a.txt -rw-r----- 5", "link Lrwxrwxrwx 5"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("listing (-want +got):\n%s", d)
	}
	if l.Entries[2].Target != "a.txt" || !l.Entries[2].IsLink {
		t.Errorf("link entry: %+v", l.Entries[2])
	}

	for _, offset := range []int64{0, 123457} {
		resp := e.get(wire.PeerPathFilesDownload, url.Values{"path": {"/docs/report.bin"}, "offset": {itoa(offset)}})
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(body, data[offset:]) {
			t.Fatalf("offset %d: %d bytes, not the file's tail", offset, len(body))
		}
		if got := resp.Trailer.Get(wire.HeaderFileSHA256); got != sum(data) {
			t.Fatalf("offset %d: trailer %q, want the whole file's %q", offset, got, sum(data))
		}
		if resp.Header.Get(wire.HeaderFileSize) != itoa(int64(len(data))) {
			t.Fatalf("size header %q", resp.Header.Get(wire.HeaderFileSize))
		}
	}
	resp := e.get(wire.PeerPathFilesDownload, url.Values{"path": {"/docs/report.bin"}})
	ver := resp.Header.Get(wire.HeaderFileVersion)
	resp.Body.Close()
	write(t, filepath.Join(e.root, "docs", "report.bin"), data[:1000])
	err := e.call(http.MethodGet, wire.PeerPathFilesDownload, url.Values{"path": {"/docs/report.bin"}, "offset": {"10"}, "version": {ver}}, nil, nil, nil)
	if code(err) != wire.CodeConflict {
		t.Fatalf("resuming a changed file: %v, want %s", err, wire.CodeConflict)
	}
	evs := e.audit.find("files.download")
	if len(evs) < 3 || evs[0].Fields["path"] != "/docs/report.bin" || evs[0].Fields["size"] != itoa(int64(len(data))) || evs[0].Actor != "alice" {
		t.Fatalf("download audit: %+v", evs)
	}
}

// get makes a GET that must succeed.
func (e *env) get(path string, q url.Values) *http.Response {
	e.t.Helper()
	resp, err := e.srv.Client().Get(e.srv.URL + path + "?" + q.Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body) //nolint:errcheck // for the message
		resp.Body.Close()
		e.t.Fatalf("GET %s: %s %s", path, resp.Status, b)
	}
	return resp
}

// TestUploadPartialNeverVisible: an upload grows under a hidden partial
// name, chunk by chunk, each checked against its SHA-256; it cannot be
// finished before it is complete; starting it again answers where it
// stands; only a complete file whose SHA-256 matches appears under its
// final name, audited with its size.
func TestUploadPartialNeverVisible(t *testing.T) {
	e := start(t)
	data := random(t, 2*wire.UploadChunk+12345)
	var st wire.UploadState
	if err := e.post(wire.PeerPathFilesUploadStart, wire.UploadStart{Path: "/in/big.bin", Size: int64(len(data)), SHA256: sum(data)}, &st); code(err) != wire.CodeNotFound {
		t.Fatalf("upload into a missing folder: %v", err)
	}
	if err := os.Mkdir(filepath.Join(e.root, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := e.post(wire.PeerPathFilesUploadStart, wire.UploadStart{Path: "/in/big.bin", Size: int64(len(data)), SHA256: sum(data)}, &st); err != nil {
		t.Fatal(err)
	}
	if st.Offset != 0 || st.Chunk != wire.UploadChunk {
		t.Fatalf("start: %+v", st)
	}
	if err := e.chunk(st.ID, 0, data[:wire.UploadChunk], &st); err != nil {
		t.Fatal(err)
	}
	// A chunk that does not match its hash is refused and changes nothing.
	bad := bytes.Clone(data[wire.UploadChunk : 2*wire.UploadChunk])
	err := e.call(http.MethodPut, wire.PeerPathFilesUploadChunk, url.Values{"id": {st.ID}, "offset": {itoa(wire.UploadChunk)}}, bytes.NewReader(bad),
		http.Header{wire.HeaderChunkSHA256: {sum(data[:10])}}, nil)
	if code(err) != wire.CodeBadRequest {
		t.Fatalf("a chunk with a wrong hash: %v", err)
	}
	// A chunk already confirmed is refused; so is one that is not a
	// chunk's start or lies past the end.
	if err := e.chunk(st.ID, 0, data[:wire.UploadChunk], new(wire.UploadState)); code(err) != wire.CodeConflict {
		t.Fatalf("a chunk sent again: %v", err)
	}
	if err := e.chunk(st.ID, 5, data[5:10], new(wire.UploadState)); code(err) != wire.CodeBadRequest {
		t.Fatalf("a chunk at an odd offset: %v", err)
	}
	if err := e.chunk(st.ID, 3*wire.UploadChunk, data[:10], new(wire.UploadState)); code(err) != wire.CodeBadRequest {
		t.Fatalf("a chunk past the end: %v", err)
	}
	if err := e.post(wire.PeerPathFilesUploadFinish, wire.UploadFinish{ID: st.ID}, nil); code(err) != wire.CodeConflict {
		t.Fatalf("finishing early: %v", err)
	}
	names := ls(t, filepath.Join(e.root, "in"))
	if len(names) != 1 || !strings.HasPrefix(names[0], ".big.bin.peerdesk-part-") {
		t.Fatalf("mid-way the folder holds %v; want only the hidden partial", names)
	}
	var again wire.UploadState
	if err := e.post(wire.PeerPathFilesUploadStart, wire.UploadStart{Path: "/in/big.bin", Size: int64(len(data)), SHA256: sum(data)}, &again); err != nil {
		t.Fatal(err)
	}
	if again.ID != st.ID || again.Offset != wire.UploadChunk {
		t.Fatalf("started again: %+v, want %s at %d", again, st.ID, wire.UploadChunk)
	}
	fi, err := e.upload("/in/big.bin", data, false)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Name != "big.bin" || fi.Size != int64(len(data)) {
		t.Fatalf("finished: %+v", fi)
	}
	got, err := os.ReadFile(filepath.Join(e.root, "in", "big.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the file on disk: %d bytes, %v", len(got), err)
	}
	if names := ls(t, filepath.Join(e.root, "in")); len(names) != 1 {
		t.Fatalf("after finishing the folder holds %v", names)
	}
	if _, err := e.upload("/in/big.bin", data[:5], false); code(err) != wire.CodeConflict {
		t.Fatalf("uploading over an existing file without overwrite: %v", err)
	}
	if _, err := e.upload("/in/big.bin", data[:5], true); err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	evs := e.audit.find("files.upload")
	if len(evs) != 2 || evs[0].Fields["path"] != "/in/big.bin" || evs[0].Fields["size"] != itoa(int64(len(data))) || evs[0].Fields["sha256"] != sum(data) {
		t.Fatalf("upload audit: %+v", evs)
	}
}

func ls(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestUploadWrongWholeHashDiscarded: every chunk matches its own hash but
// the whole file does not match the hash declared at the start: the
// upload is discarded, nothing appears under the final name and no
// partial stays.
func TestUploadWrongWholeHashDiscarded(t *testing.T) {
	e := start(t)
	data := random(t, 1000)
	var st wire.UploadState
	if err := e.post(wire.PeerPathFilesUploadStart, wire.UploadStart{Path: "/x.bin", Size: 1000, SHA256: sum([]byte("something else"))}, &st); err != nil {
		t.Fatal(err)
	}
	if err := e.chunk(st.ID, 0, data, &st); err != nil {
		t.Fatal(err)
	}
	if err := e.post(wire.PeerPathFilesUploadFinish, wire.UploadFinish{ID: st.ID}, nil); code(err) != wire.CodeConflict {
		t.Fatalf("finish with a wrong whole hash: %v", err)
	}
	if names := ls(t, e.root); len(names) != 0 {
		t.Fatalf("left behind: %v", names)
	}
}

// TestUploadSurvivesAgentRestart: the agent restarts mid-upload with a
// torn chunk at the end of the partial file; starting the upload again
// continues from the last whole chunk, and the file completes with its
// hash checked.
func TestUploadSurvivesAgentRestart(t *testing.T) {
	leak.Check(t)
	root := t.TempDir()
	data := random(t, 2*wire.UploadChunk+7)
	e := startIn(t, root)
	var st wire.UploadState
	if err := e.post(wire.PeerPathFilesUploadStart, wire.UploadStart{Path: "/f.bin", Size: int64(len(data)), SHA256: sum(data)}, &st); err != nil {
		t.Fatal(err)
	}
	if err := e.chunk(st.ID, 0, data[:wire.UploadChunk], &st); err != nil {
		t.Fatal(err)
	}
	// A torn second chunk, as a power cut mid-write leaves it.
	part := filepath.Join(root, ls(t, root)[0])
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(data[wire.UploadChunk : wire.UploadChunk+999]) //nolint:errcheck // checked by what follows
	f.Close()

	e2 := startIn(t, root)
	fi, err := e2.upload("/f.bin", data, false)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size != int64(len(data)) {
		t.Fatalf("%+v", fi)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "f.bin")); !bytes.Equal(got, data) { //nolint:errcheck // compared
		t.Fatal("the file differs")
	}
}

// TestMkdirRenameDelete: the small changes, their refusals and audits.
func TestMkdirRenameDelete(t *testing.T) {
	e := start(t)
	if err := e.post(wire.PeerPathFilesMkdir, wire.FileMkdir{Path: "/new"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.post(wire.PeerPathFilesMkdir, wire.FileMkdir{Path: "/new"}, nil); code(err) != wire.CodeConflict {
		t.Fatalf("mkdir twice: %v", err)
	}
	write(t, filepath.Join(e.root, "new", "f.txt"), []byte("x"))
	write(t, filepath.Join(e.root, "other.txt"), []byte("y"))
	if err := e.post(wire.PeerPathFilesRename, wire.FileRename{From: "/new/f.txt", To: "/other.txt"}, nil); code(err) != wire.CodeConflict {
		t.Fatalf("rename onto an existing file: %v", err)
	}
	var fi wire.FileInfo
	if err := e.post(wire.PeerPathFilesRename, wire.FileRename{From: "/new/f.txt", To: "/new/g.txt"}, &fi); err != nil || fi.Name != "g.txt" {
		t.Fatalf("rename: %+v %v", fi, err)
	}
	if err := e.post(wire.PeerPathFilesDelete, wire.FileDelete{Path: "/new"}, nil); code(err) != wire.CodeConflict {
		t.Fatalf("deleting a full folder without recursive: %v", err)
	}
	if err := e.post(wire.PeerPathFilesDelete, wire.FileDelete{Path: "/new", Recursive: true}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.post(wire.PeerPathFilesDelete, wire.FileDelete{Path: "/"}, nil); code(err) != wire.CodeBadRequest {
		t.Fatalf("deleting the top: %v", err)
	}
	if err := e.post(wire.PeerPathFilesDelete, wire.FileDelete{Path: "/other.txt"}, nil); err != nil {
		t.Fatal(err)
	}
	if names := ls(t, e.root); len(names) != 0 {
		t.Fatalf("left: %v", names)
	}
	for action, n := range map[string]int{"files.mkdir": 1, "files.rename": 1, "files.delete": 2} {
		if got := len(e.audit.find(action)); got != n {
			t.Errorf("%s audited %d times, want %d", action, got, n)
		}
	}
	if ev := e.audit.find("files.rename")[0]; ev.Fields["path"] != "/new/f.txt" || ev.Fields["to"] != "/new/g.txt" {
		t.Errorf("rename audit: %+v", ev)
	}
}

// TestUploadChunkAheadWaitsItsTurn: a client that sends the next chunk
// while the previous one is still on its way (a window of two) has it
// written after its predecessor, whichever arrives first.
func TestUploadChunkAheadWaitsItsTurn(t *testing.T) {
	e := start(t)
	data := random(t, 3*wire.UploadChunk)
	var st wire.UploadState
	if err := e.post(wire.PeerPathFilesUploadStart, wire.UploadStart{Path: "/w.bin", Size: int64(len(data)), SHA256: sum(data)}, &st); err != nil {
		t.Fatal(err)
	}
	ahead := make(chan error, 1)
	go func() {
		ahead <- e.chunk(st.ID, wire.UploadChunk, data[wire.UploadChunk:2*wire.UploadChunk], new(wire.UploadState))
	}()
	if err := e.chunk(st.ID, 0, data[:wire.UploadChunk], new(wire.UploadState)); err != nil {
		t.Fatal(err)
	}
	if err := <-ahead; err != nil {
		t.Fatalf("the chunk sent ahead: %v", err)
	}
	if err := e.chunk(st.ID, 2*wire.UploadChunk, data[2*wire.UploadChunk:], &st); err != nil {
		t.Fatal(err)
	}
	var fi wire.FileInfo
	if err := e.post(wire.PeerPathFilesUploadFinish, wire.UploadFinish{ID: st.ID}, &fi); err != nil || fi.Size != int64(len(data)) {
		t.Fatalf("finish: %+v %v", fi, err)
	}
}

// TestLeaseEndStopsDownload: the call's context ends mid-download (the
// peer server cancels it when the user presses End or the technician is
// revoked): the stream stops short, without the trailer that would make
// it a complete file.
func TestLeaseEndStopsDownload(t *testing.T) {
	leak.Check(t)
	root := t.TempDir()
	data := random(t, 32<<20)
	write(t, filepath.Join(root, "big.bin"), data)
	h, err := New(Config{Root: root, Audit: &records{}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	end := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			select {
			case <-end:
				cancel()
			case <-ctx.Done():
			}
		}()
		h.ServePeer(w, r.WithContext(ctx), gate.Caller{Technician: "alice"})
	}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + wire.PeerPathFilesDownload + "?path=/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadFull(resp.Body, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	close(end)
	n, _ := io.Copy(io.Discard, resp.Body) //nolint:errcheck // a cut stream is what is expected
	if 1<<20+n >= int64(len(data)) || resp.Trailer.Get(wire.HeaderFileSHA256) != "" {
		t.Fatalf("after the lease ended %d more bytes came (of %d), trailer %q", n, len(data), resp.Trailer.Get(wire.HeaderFileSHA256))
	}
}

// TestUploadSyncsEvery64MiBAndOnResume: chunks are confirmed as written,
// a sync of the partial starts in the background once syncEvery bytes have
// gathered, and the partial is synced whenever a client asks where the
// upload stands, so the offset a resumed upload builds on is durable; the
// chunk buffers are reused, not reallocated.
func TestUploadSyncsEvery64MiBAndOnResume(t *testing.T) {
	leak.Check(t)
	data := random(t, syncEvery+2*wire.UploadChunk)
	e := start(t)
	begin := wire.UploadStart{Path: "/big.bin", Size: int64(len(data)), SHA256: sum(data)}
	var st wire.UploadState
	if err := e.post(wire.PeerPathFilesUploadStart, begin, &st); err != nil {
		t.Fatal(err)
	}
	var u *upload
	state := func() (off, syn int64, bg bool) {
		e.h.uploads.mu.Lock()
		u = e.h.uploads.m[st.ID]
		e.h.uploads.mu.Unlock()
		u.mu.Lock()
		defer u.mu.Unlock()
		return u.offset, u.synced, u.bg != nil
	}
	synced := func() (int64, int64) {
		off, syn, _ := state()
		return off, syn
	}
	for st.Offset < syncEvery+wire.UploadChunk {
		at := st.Offset
		if err := e.chunk(st.ID, at, data[at:at+wire.UploadChunk], &st); err != nil {
			t.Fatal(err)
		}
		off, syn, bg := state()
		if off != at+wire.UploadChunk || st.Offset != off {
			t.Fatalf("after the chunk at %d: offset %d, answered %d", at, off, st.Offset)
		}
		switch {
		case off < syncEvery && (syn != 0 || bg):
			t.Fatalf("after the chunk at %d: synced %d, a sync under way %v; want none before %d bytes", at, syn, bg, syncEvery)
		case off >= syncEvery && !bg && syn != syncEvery:
			t.Fatalf("after the chunk at %d: synced %d and no sync under way; want one of the first %d bytes", at, syn, syncEvery)
		}
	}
	// The background sync delivers the offset it made durable.
	u.mu.Lock()
	err := u.settle(true)
	syn := u.synced
	u.mu.Unlock()
	if err != nil || syn != syncEvery {
		t.Fatalf("the background sync: synced %d, %v; want %d", syn, err, syncEvery)
	}
	if len(e.h.uploads.free) != 1 {
		t.Fatalf("%d chunk buffers kept, want the one reused", len(e.h.uploads.free))
	}
	// Asking where it stands syncs what is confirmed.
	if err := e.post(wire.PeerPathFilesUploadStart, begin, &st); err != nil {
		t.Fatal(err)
	}
	if off, syn := synced(); st.Offset != syncEvery+wire.UploadChunk || off != st.Offset || syn != off {
		t.Fatalf("resumed at %d: offset %d, synced %d", st.Offset, off, syn)
	}
	at := st.Offset
	if err := e.chunk(st.ID, at, data[at:], &st); err != nil {
		t.Fatal(err)
	}
	if off, syn := synced(); off != int64(len(data)) || syn != off {
		t.Fatalf("the last chunk: offset %d, synced %d", off, syn)
	}
	var fi wire.FileInfo
	if err := e.post(wire.PeerPathFilesUploadFinish, wire.UploadFinish{ID: st.ID}, &fi); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(e.root, "big.bin")); !bytes.Equal(got, data) { //nolint:errcheck // compared
		t.Fatal("the file differs")
	}
}

// TestFingerprintedUpload: an upload started with a fingerprint instead
// of the file's SHA-256 takes chunks checked by CRC-32C, resumes under
// the same fingerprint, and finishes only with the file's SHA-256, which
// it checks (and audits); the refusals change nothing.
func TestFingerprintedUpload(t *testing.T) {
	e := start(t)
	data := random(t, 2*wire.UploadChunk+777)
	fp := sum([]byte("a fingerprint of the viewer's choosing"))
	crc := func(b []byte) http.Header {
		return http.Header{wire.HeaderChunkCRC32C: {fmt.Sprintf("%08x", crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))}}
	}
	put := func(id string, off int64, b []byte, hd http.Header, st *wire.UploadState) error {
		return e.call(http.MethodPut, wire.PeerPathFilesUploadChunk, url.Values{"id": {id}, "offset": {itoa(off)}}, bytes.NewReader(b), hd, st)
	}
	for _, bad := range []wire.UploadStart{
		{Path: "/f.bin", Size: 1},
		{Path: "/f.bin", Size: 1, SHA256: sum(data), Fingerprint: fp},
		{Path: "/f.bin", Size: 1, Fingerprint: "abc"},
	} {
		if err := e.post(wire.PeerPathFilesUploadStart, bad, nil); code(err) != wire.CodeBadRequest {
			t.Errorf("start %+v: %v, want bad_request", bad, err)
		}
	}
	var st wire.UploadState
	if err := e.post(wire.PeerPathFilesUploadStart, wire.UploadStart{Path: "/f.bin", Size: int64(len(data)), Fingerprint: fp}, &st); err != nil {
		t.Fatal(err)
	}
	first := data[:wire.UploadChunk]
	for _, hd := range []http.Header{
		crc(data[1 : wire.UploadChunk+1]), // another chunk's
		{wire.HeaderChunkCRC32C: {"123"}},
		{wire.HeaderChunkCRC32C: {"zzzzzzzz"}},
		{},
		{wire.HeaderChunkCRC32C: crc(first)[wire.HeaderChunkCRC32C], wire.HeaderChunkSHA256: {sum(first)}},
	} {
		if err := put(st.ID, 0, first, hd, nil); code(err) != wire.CodeBadRequest {
			t.Errorf("a chunk with %v: %v, want bad_request", hd, err)
		}
	}
	if err := put(st.ID, 0, first, crc(first), &st); err != nil || st.Offset != wire.UploadChunk {
		t.Fatalf("the first chunk: %+v, %v", st, err)
	}
	// The same fingerprint meets the same upload; another does not.
	var again wire.UploadState
	if err := e.post(wire.PeerPathFilesUploadStart, wire.UploadStart{Path: "/f.bin", Size: int64(len(data)), Fingerprint: fp}, &again); err != nil || again.ID != st.ID || again.Offset != wire.UploadChunk {
		t.Fatalf("started again: %+v, %v; want %s at %d", again, err, st.ID, wire.UploadChunk)
	}
	var other wire.UploadState
	if err := e.post(wire.PeerPathFilesUploadStart, wire.UploadStart{Path: "/f.bin", Size: int64(len(data)), Fingerprint: sum([]byte(fp))}, &other); err != nil || other.ID == st.ID || other.Offset != 0 {
		t.Fatalf("another fingerprint: %+v, %v", other, err)
	}
	if err := e.post(wire.PeerPathFilesUploadCancel, wire.UploadCancel{ID: other.ID}, nil); err != nil {
		t.Fatal(err)
	}
	// A chunk may still carry its SHA-256 instead.
	if err := e.chunk(st.ID, st.Offset, data[st.Offset:2*wire.UploadChunk], &st); err != nil {
		t.Fatal(err)
	}
	if err := put(st.ID, st.Offset, data[st.Offset:], crc(data[st.Offset:]), &st); err != nil || st.Offset != st.Size {
		t.Fatalf("the last chunk: %+v, %v", st, err)
	}
	if err := e.post(wire.PeerPathFilesUploadFinish, wire.UploadFinish{ID: st.ID}, nil); code(err) != wire.CodeBadRequest {
		t.Fatalf("finished without the SHA-256: %v", err)
	}
	if err := e.post(wire.PeerPathFilesUploadFinish, wire.UploadFinish{ID: st.ID, SHA256: "00"}, nil); code(err) != wire.CodeBadRequest {
		t.Fatalf("finished with a malformed SHA-256: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.root, "f.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after refused finishes the file is there: %v", err)
	}
	var fi wire.FileInfo
	if err := e.post(wire.PeerPathFilesUploadFinish, wire.UploadFinish{ID: st.ID, SHA256: sum(data)}, &fi); err != nil || fi.Size != int64(len(data)) {
		t.Fatalf("finish: %+v, %v", fi, err)
	}
	if got, err := os.ReadFile(filepath.Join(e.root, "f.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the file on disk: %d bytes, %v", len(got), err)
	}
	if evs := e.audit.find("files.upload"); len(evs) != 1 || evs[0].Fields["sha256"] != sum(data) {
		t.Fatalf("audit: %+v", evs)
	}

	// A SHA-256 at the finish that is not the file's discards it.
	small := random(t, 100)
	if err := e.post(wire.PeerPathFilesUploadStart, wire.UploadStart{Path: "/g.bin", Size: 100, Fingerprint: fp}, &st); err != nil {
		t.Fatal(err)
	}
	if err := put(st.ID, 0, small, crc(small), &st); err != nil {
		t.Fatal(err)
	}
	if err := e.post(wire.PeerPathFilesUploadFinish, wire.UploadFinish{ID: st.ID, SHA256: sum(data)}, nil); code(err) != wire.CodeConflict {
		t.Fatalf("finish with another file's SHA-256: %v", err)
	}
	if names := ls(t, e.root); len(names) != 1 || names[0] != "f.bin" {
		t.Fatalf("left behind: %v", names)
	}
	// A start that named the SHA-256 refuses another at the finish.
	if err := e.post(wire.PeerPathFilesUploadStart, wire.UploadStart{Path: "/h.bin", Size: 100, SHA256: sum(small)}, &st); err != nil {
		t.Fatal(err)
	}
	if err := put(st.ID, 0, small, crc(small), &st); err != nil {
		t.Fatal(err)
	}
	if err := e.post(wire.PeerPathFilesUploadFinish, wire.UploadFinish{ID: st.ID, SHA256: sum(data)}, nil); code(err) != wire.CodeBadRequest {
		t.Fatalf("finish naming another SHA-256 than the start: %v", err)
	}
	if err := e.post(wire.PeerPathFilesUploadFinish, wire.UploadFinish{ID: st.ID, SHA256: sum(small)}, nil); err != nil {
		t.Fatal(err)
	}
}
