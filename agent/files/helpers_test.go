package files

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/wire"
)

// records keeps the audit records in memory.
type records struct {
	mu  sync.Mutex
	evs []wire.AuditEvent
}

func (r *records) Record(ev wire.AuditEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, ev)
	return nil
}

// find answers the records of action.
func (r *records) find(action string) []wire.AuditEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []wire.AuditEvent
	for _, ev := range r.evs {
		if ev.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

// env is a files handler on a temporary root, served over real HTTP as
// the peer server would, for a technician that passed the gate.
type env struct {
	t     testing.TB
	root  string
	h     *Handler
	srv   *httptest.Server
	audit *records
}

func start(t testing.TB) *env {
	t.Helper()
	leak.Check(t)
	return startIn(t, t.TempDir())
}

func startIn(t testing.TB, root string) *env {
	t.Helper()
	return startWith(t, Config{Root: root})
}

// startWith is startIn with more of the configuration (device and audit
// are the env's).
func startWith(t testing.TB, cfg Config) *env {
	t.Helper()
	e := &env{t: t, root: cfg.Root, audit: &records{}}
	cfg.Device, cfg.Audit = "dev-1", e.audit
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServePeer(w, r, gate.Caller{Technician: "alice", Node: node.Identity{Name: "tech-alice", NodeKey: "nodekey:a1"}})
	}))
	t.Cleanup(func() {
		e.srv.Close()
		if err := h.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

// call makes a request and decodes a JSON answer into out; a refusal is
// a *wire.Error.
func (e *env) call(method, path string, q url.Values, body io.Reader, hdr http.Header, out any) error {
	e.t.Helper()
	u := e.srv.URL + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var we wire.Error
		if err := json.Unmarshal(data, &we); err != nil {
			e.t.Fatalf("%s %s: %s: %q", method, path, resp.Status, data)
		}
		return &we
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: %v: %q", method, path, err, data)
		}
	}
	return nil
}

func (e *env) post(path string, in, out any) error {
	e.t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.call(http.MethodPost, path, nil, bytes.NewReader(b), http.Header{"Content-Type": {"application/json"}}, out)
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// upload sends b to p in chunks and finishes it.
func (e *env) upload(p string, b []byte, overwrite bool) (wire.FileInfo, error) {
	e.t.Helper()
	var st wire.UploadState
	if err := e.post(wire.PeerPathFilesUploadStart, wire.UploadStart{Path: p, Size: int64(len(b)), SHA256: sum(b), Overwrite: overwrite}, &st); err != nil {
		return wire.FileInfo{}, err
	}
	for st.Offset < st.Size {
		if err := e.chunk(st.ID, st.Offset, b[st.Offset:min(st.Offset+int64(st.Chunk), st.Size)], &st); err != nil {
			return wire.FileInfo{}, err
		}
	}
	var fi wire.FileInfo
	err := e.post(wire.PeerPathFilesUploadFinish, wire.UploadFinish{ID: st.ID}, &fi)
	return fi, err
}

func (e *env) chunk(id string, offset int64, b []byte, st *wire.UploadState) error {
	e.t.Helper()
	return e.call(http.MethodPut, wire.PeerPathFilesUploadChunk, url.Values{"id": {id}, "offset": {itoa(offset)}}, bytes.NewReader(b),
		http.Header{wire.HeaderChunkSHA256: {sum(b)}}, st)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// code is a refusal's wire code ("" for none).
func code(err error) string {
	if we, ok := err.(*wire.Error); ok {
		return we.Code
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return ""
}
