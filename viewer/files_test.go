package viewer

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent/files"
	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/wire"
)

type discardAudit struct{}

func (discardAudit) Record(wire.AuditEvent) error { return nil }

// link is a TCP proxy between the client and the agent whose connections
// can be cut (closed) or frozen (bytes stop flowing, nothing closes) once
// a number of bytes has passed, as a dropped link does.
type link struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	passed atomic.Int64 // bytes through, both ways
	at     int64        // cut or freeze once passed reaches it (0: never)
	freeze bool
	done   bool // the fault happened; later connections pass
	wg     sync.WaitGroup
}

func newLink(t testing.TB, target string) *link {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &link{ln: ln, target: target}
	l.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			l.mu.Lock()
			l.conns = append(l.conns, c, s)
			l.mu.Unlock()
			l.wg.Go(func() { l.pipe(s, c) })
			l.wg.Go(func() { l.pipe(c, s) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		l.cutAll()
		l.wg.Wait()
	})
	return l
}

// faultAt arms the fault: after n more bytes, cut or freeze.
func (l *link) faultAt(n int64, freeze bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.at, l.freeze, l.done = l.passed.Load()+n, freeze, false
}

func (l *link) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			total := l.passed.Add(int64(n))
			l.mu.Lock()
			fault := l.at > 0 && !l.done && total >= l.at
			freeze := l.freeze
			if fault {
				l.done = true
			}
			l.mu.Unlock()
			if fault {
				if freeze {
					// Nothing more flows on this connection; it stays open.
					io.Copy(io.Discard, src) //nolint:errcheck // until the client gives up
					return
				}
				l.cutAll()
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

func (l *link) faulted() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done
}

func (l *link) cutAll() {
	l.mu.Lock()
	cs := l.conns
	l.conns = nil
	l.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}

// agentAt serves agent/files on root for a verified technician and
// records the offsets downloads ask for.
func agentAt(t testing.TB, root string) (*httptest.Server, *[]string) {
	return agentOf(t, root, false)
}

// agentOf is agentAt; an older agent (from before fingerprinted uploads)
// refuses, as those did, an upload start without a SHA-256 (strict
// decoding: the fingerprint is an unknown field) and a chunk without its
// SHA-256.
func agentOf(t testing.TB, root string, older bool) (*httptest.Server, *[]string) {
	h, err := files.New(files.Config{Root: root, Device: "dev", Audit: discardAudit{}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var offsets []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if older {
			refuse := r.URL.Path == wire.PeerPathFilesUploadChunk && r.Header.Get(wire.HeaderChunkSHA256) == ""
			if r.URL.Path == wire.PeerPathFilesUploadStart || r.URL.Path == wire.PeerPathFilesUploadFinish {
				b, _ := io.ReadAll(r.Body)
				refuse = bytes.Contains(b, []byte(`"fingerprint"`)) || (r.URL.Path == wire.PeerPathFilesUploadFinish && bytes.Contains(b, []byte(`"sha256"`)))
				r.Body = io.NopCloser(bytes.NewReader(b))
			}
			if refuse {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"code":"bad_request","message":"a SHA-256 is 64 hexadecimal digits"}`)
				return
			}
		}
		if r.URL.Path == wire.PeerPathFilesDownload {
			mu.Lock()
			offsets = append(offsets, r.URL.Query().Get("offset"))
			mu.Unlock()
		}
		h.ServePeer(w, r, gate.Caller{Technician: "alice", Node: node.Identity{NodeKey: "nodekey:1"}})
	}))
	t.Cleanup(func() {
		srv.Close()
		h.Close()
	})
	return srv, &offsets
}

func client(l *link) *Files {
	return &Files{HTTP: &http.Client{Transport: &http.Transport{}}, Base: "http://" + l.ln.Addr().String(), Grant: "g",
		Stall: 300 * time.Millisecond, Pause: 10 * time.Millisecond}
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestUploadResumesAfterCut (R3): the link is cut mid-way through an
// upload, then (another time) freezes; each time the client asks the
// agent where the upload stands and continues from the last confirmed
// chunk. The file arrives whole with its hash checked, and the bytes sent
// again are at most the chunks that were on the way: one when the client
// sends one at a time, two with the default window.
func TestUploadResumesAfterCut(t *testing.T) {
	leak.Check(t)
	root := t.TempDir()
	srv, _ := agentAt(t, root)
	data := make([]byte, 4*wire.UploadChunk+12345)
	rand.Read(data) //nolint:errcheck // never fails
	for _, window := range []int{1, 2} {
		for _, freeze := range []bool{false, true} {
			l := newLink(t, srv.Listener.Addr().String())
			f := client(l)
			f.Window = window
			l.faultAt(int64(2*wire.UploadChunk+wire.UploadChunk/2), freeze)
			name := fmt.Sprintf("/up-%d-%v.bin", window, freeze)
			u := Upload{Path: name, Size: int64(len(data))}
			if freeze {
				// The SHA-256 known at the start; else a fingerprint,
				// the file hashed as it goes, across the cut.
				u.SHA256 = hexSum(data)
			}
			fi, err := f.Upload(context.Background(), u, bytes.NewReader(data))
			if err != nil {
				t.Fatalf("window %d, freeze %v: %v", window, freeze, err)
			}
			if fi.Size != int64(len(data)) {
				t.Fatalf("%+v", fi)
			}
			got, err := os.ReadFile(filepath.Join(root, name[1:]))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("window %d, freeze %v: the file on the agent differs (%d bytes, %v)", window, freeze, len(got), err)
			}
			if !l.faulted() {
				t.Fatal("the link never failed: the test proves nothing")
			}
			if lost := f.Sent() - int64(len(data)); lost < 0 || lost > int64(window)*wire.UploadChunk {
				t.Fatalf("window %d, freeze %v: %d bytes sent again, want at most %d chunks (%d bytes)", window, freeze, lost, window, window*wire.UploadChunk)
			}
		}
	}
}

// TestDownloadResumesAfterCut (R3): a download whose link is cut (then
// one that freezes) continues from the last byte received, not from
// zero, and the whole file's SHA-256 is checked.
func TestDownloadResumesAfterCut(t *testing.T) {
	leak.Check(t)
	root := t.TempDir()
	data := make([]byte, 9<<20+7)
	rand.Read(data) //nolint:errcheck // never fails
	if err := os.WriteFile(filepath.Join(root, "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	srv, offsets := agentAt(t, root)
	for _, freeze := range []bool{false, true} {
		*offsets = nil
		l := newLink(t, srv.Listener.Addr().String())
		f := client(l)
		l.faultAt(5<<20, freeze)
		var got bytes.Buffer
		size, sum, err := f.Download(context.Background(), Download{Path: "/big.bin"}, &got)
		if err != nil {
			t.Fatalf("freeze %v: %v", freeze, err)
		}
		if size != int64(len(data)) || sum != hexSum(data) || !bytes.Equal(got.Bytes(), data) {
			t.Fatalf("freeze %v: %d bytes, %s", freeze, got.Len(), sum)
		}
		if !l.faulted() {
			t.Fatal("the link never failed: the test proves nothing")
		}
		if len(*offsets) < 2 || (*offsets)[0] != "0" || (*offsets)[1] == "0" {
			t.Fatalf("freeze %v: offsets asked %v; want a resumed one after 0", freeze, *offsets)
		}
	}
}

// TestDownloadHashMismatch: bytes that do not hash to the agent's trailer
// are an error, not a file (a resumed download whose held prefix is not
// the file's).
func TestDownloadHashMismatch(t *testing.T) {
	leak.Check(t)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "f"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, _ := agentAt(t, root)
	l := newLink(t, srv.Listener.Addr().String())
	h := sha256.New()
	h.Write([]byte("XXXX")) // not the file's first four bytes
	_, _, err := client(l).Download(context.Background(), Download{Path: "/f", Offset: 4, Hash: h}, io.Discard)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("does not match")) {
		t.Fatalf("a wrong prefix: %v, want %v", err, ErrHashMismatch)
	}
}

// TestUploadToOlderAgent: an agent from before fingerprinted uploads
// refuses the fingerprint and the CRC-32C chunk check; the viewer sends
// it the file the old way (hashed first, SHA-256 per chunk), whether it
// knew the SHA-256 at the start or not.
func TestUploadToOlderAgent(t *testing.T) {
	leak.Check(t)
	root := t.TempDir()
	srv, _ := agentOf(t, root, true)
	data := make([]byte, 2*wire.UploadChunk+99)
	rand.Read(data) //nolint:errcheck // never fails
	for i, known := range []string{"", hexSum(data)} {
		l := newLink(t, srv.Listener.Addr().String())
		name := fmt.Sprintf("/old-%d.bin", i)
		if _, err := client(l).Upload(context.Background(), Upload{Path: name, Size: int64(len(data)), SHA256: known}, bytes.NewReader(data)); err != nil {
			t.Fatalf("SHA-256 known %v: %v", known != "", err)
		}
		if got, err := os.ReadFile(filepath.Join(root, name[1:])); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("the file on the agent differs (%d bytes, %v)", len(got), err)
		}
	}
}

// TestFingerprint: the same content, size and time give the same
// fingerprint; a change in the first or last chunk, the size or the
// time gives another.
func TestFingerprint(t *testing.T) {
	t.Parallel()
	data := make([]byte, 3*wire.UploadChunk)
	rand.Read(data) //nolint:errcheck // never fails
	mod := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	fp := func(b []byte, m time.Time) string {
		s, err := Fingerprint(bytes.NewReader(b), int64(len(b)), m)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := fp(data, mod)
	if fp(bytes.Clone(data), mod) != base {
		t.Fatal("the same file, another fingerprint")
	}
	for name, b := range map[string][]byte{
		"first byte": append([]byte{data[0] ^ 1}, data[1:]...),
		"last byte":  append(bytes.Clone(data[:len(data)-1]), data[len(data)-1]^1),
		"shorter":    data[:len(data)-1],
	} {
		if fp(b, mod) == base {
			t.Errorf("%s changed, the fingerprint did not", name)
		}
	}
	if fp(data, mod.Add(time.Second)) == base || fp(data, time.Time{}) == base {
		t.Error("another time, the same fingerprint")
	}
	if fp(nil, time.Time{}) == fp([]byte{0}, time.Time{}) {
		t.Error("an empty file and one zero byte share a fingerprint")
	}
}
