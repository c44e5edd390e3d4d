// Package files is the agent's files capability (wire.CapFiles, R3): a
// technician browses the machine's folders, downloads and uploads files,
// makes folders, renames and deletes, and moves whole folders as tar
// streams — peer to peer over the overlay, behind the gate and the end
// user's consent (a peer.ConsentPerCall row).
//
// # Confinement
//
// Every filesystem access goes through an [os.Root] opened on the
// configured top ("/" on Linux and macOS, each drive on Windows): a path
// is first normalised by wire.CleanFilePath (no "..", no NUL, no device
// or stream names, bounded), then opened inside the root, so a symbolic
// link cannot lead out of it either. An archive is extracted through an
// os.Root opened on the target folder itself: none of its entries can
// land outside that folder, whatever their names or the links already
// there (the zip-slip class is impossible by construction, not by
// checking).
//
// # Transfers
//
// Downloads stream from any offset (a cut download resumes) and end with
// the whole file's SHA-256 as an HTTP trailer. Uploads come in chunks
// (wire.UploadChunk) each with its SHA-256, checked before it is written;
// the file grows under a hidden partial name beside its final one
// (".name.peerdesk-part-<id>"). A chunk is confirmed once written: it
// survives the link dropping and the agent process ending, so a client
// that lost its link asks where the upload stands and continues from the
// last confirmed chunk. The partial is synced every 64 MiB, whenever a
// client asks where the upload stands (so a resumed upload builds on
// durable bytes) and at the end: a power cut costs at most the bytes
// since the last sync, not a sync per chunk paid by every upload. Only a complete file whose SHA-256 matches is
// synced, renamed to its final name and its folder synced: a partial file
// is never visible under its final name. A full disk removes the partial
// file and answers wire.CodeDiskFull. An upload that takes no chunk for a
// day (Config.PartialTTL) is forgotten and its partial removed, also when
// an earlier run of the agent left it: the uploads in progress are listed
// in the agent's state directory (Config.PartialsFile; partials.go).
//
// Every download, write, rename and delete is written to the agent's
// audit trail with its path and size, besides the gate's record of the
// call.
package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/wire"
)

// Config configures the capability.
type Config struct {
	// Root is the top a technician sees, as "/" on the wire: a directory
	// (tests use a temporary one), or "" for the whole machine ("/" on
	// Linux and macOS, the drives on Windows).
	Root   string
	Device string        // this machine's device id, the audit records' target
	Audit  gate.Recorder // required: what every write, rename, delete and download did
	Logger *slog.Logger
	Now    func() time.Time
	// PartialsFile, when set, is where the uploads in progress are listed
	// (a file in the agent's state directory), so that a partial left by
	// an earlier run is found and removed once it expires.
	PartialsFile string
	// PartialTTL is how long an upload may take no chunk before it is
	// forgotten and its partial file removed (DefaultPartialTTL if zero).
	PartialTTL time.Duration
}

// Handler serves the files routes (Routes) for verified callers.
type Handler struct {
	cfg     Config
	top     top
	mux     *http.ServeMux
	uploads *uploads
	stop    chan struct{} // closed by Close: the janitor ends
	swept   chan struct{} // closed when it has
}

// Errors of New.
var ErrNoAudit = errors.New("files: an audit recorder is required")

// New opens the top and builds the handler. Close releases it.
func New(cfg Config) (*Handler, error) {
	if cfg.Audit == nil {
		return nil, ErrNoAudit
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PartialTTL <= 0 {
		cfg.PartialTTL = DefaultPartialTTL
	}
	t, err := openTop(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("files.New: %w", err)
	}
	h := &Handler{cfg: cfg, top: t, uploads: newUploads()}
	h.uploads.save = h.savePartials
	m := http.NewServeMux()
	m.HandleFunc("GET "+wire.PeerPathFilesList, h.list)
	m.HandleFunc("GET "+wire.PeerPathFilesDownload, h.download)
	m.HandleFunc("POST "+wire.PeerPathFilesUploadStart, h.uploadStart)
	m.HandleFunc("PUT "+wire.PeerPathFilesUploadChunk, h.uploadChunk)
	m.HandleFunc("POST "+wire.PeerPathFilesUploadFinish, h.uploadFinish)
	m.HandleFunc("POST "+wire.PeerPathFilesUploadCancel, h.uploadCancel)
	m.HandleFunc("POST "+wire.PeerPathFilesMkdir, h.mkdir)
	m.HandleFunc("POST "+wire.PeerPathFilesRename, h.rename)
	m.HandleFunc("POST "+wire.PeerPathFilesDelete, h.remove)
	m.HandleFunc("GET "+wire.PeerPathFilesArchive, h.archive)
	m.HandleFunc("PUT "+wire.PeerPathFilesExtract, h.extract)
	h.mux = m
	h.loadPartials()
	h.sweep()
	h.stop, h.swept = make(chan struct{}), make(chan struct{})
	go h.janitor(h.stop, h.swept)
	return h, nil
}

// Routes are the capability's routes, for its row in the agent's table.
func Routes() []string {
	return []string{
		"GET " + wire.PeerPathFilesList,
		"GET " + wire.PeerPathFilesDownload,
		"POST " + wire.PeerPathFilesUploadStart,
		"PUT " + wire.PeerPathFilesUploadChunk,
		"POST " + wire.PeerPathFilesUploadFinish,
		"POST " + wire.PeerPathFilesUploadCancel,
		"POST " + wire.PeerPathFilesMkdir,
		"POST " + wire.PeerPathFilesRename,
		"POST " + wire.PeerPathFilesDelete,
		"GET " + wire.PeerPathFilesArchive,
		"PUT " + wire.PeerPathFilesExtract,
	}
}

// Capability is what a caller's grant must include.
func (*Handler) Capability() wire.Capability { return wire.CapFiles }

type callerKey struct{}

// ServePeer serves one verified call.
func (h *Handler) ServePeer(w http.ResponseWriter, r *http.Request, c gate.Caller) {
	h.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
}

func caller(r *http.Request) gate.Caller {
	c, _ := r.Context().Value(callerKey{}).(gate.Caller) //nolint:errcheck // set by ServePeer for every route
	return c
}

// Close stops the janitor and releases the roots.
func (h *Handler) Close() error {
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	<-h.swept
	h.uploads.idle.Stop()
	h.uploads.freeBuffers()
	return h.top.close()
}

// audit records what a call did. An action that cannot be audited is not
// taken (reads) or is reported as failed (writes, recorded once done).
func (h *Handler) audit(r *http.Request, action, p string, fields map[string]string) error {
	c := caller(r)
	if fields == nil {
		fields = map[string]string{}
	}
	fields["path"] = p
	fields["node_key"] = c.Node.NodeKey
	err := h.cfg.Audit.Record(wire.AuditEvent{Time: h.cfg.Now(), Actor: c.Technician, Action: "files." + action,
		Target: h.cfg.Device, Outcome: "ok", Fields: fields})
	if err != nil {
		h.cfg.Logger.Error("audit record failed", "err", err)
		return fmt.Errorf("%w: %w", errAudit, err)
	}
	return nil
}

var errAudit = errors.New("the agent cannot write its audit trail")

// place is a cleaned wire path resolved to the root that holds it.
type place struct {
	wire string // the cleaned wire path
	root *os.Root
	rel  string // in root, OS separators; "." for the root itself
}

// resolve cleans p and finds its root.
func (h *Handler) resolve(p string) (place, error) {
	c, err := wire.CleanFilePath(p)
	if err != nil {
		return place{}, err
	}
	root, rel, err := h.top.resolve(c)
	if err != nil {
		return place{}, err
	}
	return place{wire: c, root: root, rel: rel}, nil
}

// parentAndName splits a cleaned wire path; "/" has no parent.
func parentAndName(p string) (string, string, error) {
	if p == "/" {
		return "", "", fmt.Errorf("%w: the top has no parent", wire.ErrFilePath)
	}
	dir, name := path.Split(p)
	if dir != "/" {
		dir = strings.TrimSuffix(dir, "/")
	}
	return dir, name, nil
}

// joinRel joins a root-relative folder and a name.
func joinRel(dir, name string) string {
	if dir == "." {
		return name
	}
	return filepath.Join(dir, name)
}

// errTop: the top is not a folder of its own (Windows: the list of
// drives), and nothing can be written there.
var errTop = errors.New("the top lists the drives; choose a drive")

// errPathEscapes matches what os.Root answers for a name that would leave
// it (it exports no value for it).
func escapes(err error) bool {
	return err != nil && strings.Contains(err.Error(), "escapes from parent")
}

// fail answers err as a wire error a technician can read.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := http.StatusInternalServerError, wire.CodeInternal, "the agent could not do this"
	switch {
	case errors.Is(err, wire.ErrFilePath), errors.Is(err, wire.ErrFileName), errors.Is(err, errTop), errors.Is(err, errArchive):
		status, code, msg = http.StatusBadRequest, wire.CodeBadRequest, err.Error()
	case escapes(err):
		status, code, msg = http.StatusBadRequest, wire.CodeBadRequest, "the path leads outside the folder (a symbolic link or \"..\")"
	case errors.Is(err, errDiskFull):
		status, code, msg = http.StatusInsufficientStorage, wire.CodeDiskFull, "the disk is full"
	case errors.Is(err, errAudit):
		status, code, msg = http.StatusServiceUnavailable, wire.CodeInternal, errAudit.Error()
	case errors.Is(err, errConflict):
		status, code, msg = http.StatusConflict, wire.CodeConflict, err.Error()
	case errors.Is(err, errNotFound):
		status, code, msg = http.StatusNotFound, wire.CodeNotFound, err.Error()
	case errors.Is(err, errBad):
		status, code, msg = http.StatusBadRequest, wire.CodeBadRequest, err.Error()
	case errors.Is(err, fs.ErrNotExist):
		status, code, msg = http.StatusNotFound, wire.CodeNotFound, "no such file or folder"
	case errors.Is(err, fs.ErrExist):
		status, code, msg = http.StatusConflict, wire.CodeConflict, "it already exists"
	case errors.Is(err, fs.ErrPermission):
		status, code, msg = http.StatusForbidden, wire.CodeForbidden, "the agent is not allowed to do this on this machine"
	case errors.Is(err, context.Canceled):
		status, code, msg = http.StatusServiceUnavailable, wire.CodeConsentDenied, "the call ended (the user ended the session or the link dropped)"
	}
	if status == http.StatusInternalServerError {
		h.cfg.Logger.Warn("files call failed", "path", r.URL.Path, "err", err)
	} else {
		h.cfg.Logger.Debug("files call refused", "path", r.URL.Path, "err", err)
	}
	gate.WriteError(w, status, code, msg)
}

// Kinds of refusal answered to the caller in their own words.
var (
	errConflict = errors.New("conflict")
	errNotFound = errors.New("not found")
	errBad      = errors.New("bad request")
	errDiskFull = errors.New("the disk is full")
)

// refusal is an error whose words are for the technician, of a kind above.
type refusal struct {
	kind error
	msg  string
}

func (e refusal) Error() string        { return e.msg }
func (e refusal) Is(target error) bool { return target == e.kind }
func refuse(kind error, format string, args ...any) error {
	return refusal{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// infoOf describes an entry.
func infoOf(name string, fi fs.FileInfo) wire.FileInfo {
	return wire.FileInfo{Name: name, Size: fi.Size(), ModTime: fi.ModTime().UTC(), Mode: fi.Mode().String(),
		IsDir: fi.IsDir(), IsLink: fi.Mode()&fs.ModeSymlink != 0}
}

// ctxReader stops reading once ctx ends: a consent lease's end (the user
// pressed End, the technician was revoked) stops a transfer mid-way.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
