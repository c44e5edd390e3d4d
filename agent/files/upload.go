package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/wire"
)

// maxUploads bounds the uploads an agent keeps track of at once (started,
// not yet finished or cancelled).
const maxUploads = 64

// chunkReadTimeout bounds how long one chunk's body may take to arrive: a
// connection whose link dropped frees its buffer after this at most.
const chunkReadTimeout = 2 * time.Minute

// syncEvery is how many bytes of an upload may be written to its partial
// file between two syncs. A chunk is confirmed once it is written (it
// survives the link dropping and the agent process ending: the kernel has
// it); it is durable against a power cut once synced: a sync starts in the
// background every syncEvery bytes, and the partial is synced before an
// answer to where the upload stands (start, resume) and before the file
// takes its name. A sync per 4 MiB chunk held uploads to the disk's sync
// rate; a sync every 64 MiB that the next chunk waited for held them to
// the network's and the disk's rates one after the other (90 of 134 MiB/s
// on the benchmark machine): in the background the two overlap
// (docs/ARCHITECTURE.md, Files).
const syncEvery = 16 * wire.UploadChunk

// uploads tracks uploads in progress; their bytes are on disk.
type uploads struct {
	mu sync.Mutex
	m  map[string]*upload
	// dormant are the partials an earlier run listed and nobody has
	// resumed yet (partials.go).
	dormant map[string]listed
	// save writes the list of partials; called with mu held.
	save func()
	sem  chan struct{} // a chunk buffer each: wire.MaxUploadsActive × wire.UploadChunk bytes at most
	// free keeps chunk buffers between chunks (a sync.Pool is emptied by
	// every GC); they are freed once no chunk has come for bufferIdle.
	free chan []byte
	idle *time.Timer
}

// bufferIdle is how long chunk buffers are kept after the last chunk.
const bufferIdle = 30 * time.Second

const chunkBufferSize = wire.UploadChunk

func newUploads() *uploads {
	us := &uploads{m: map[string]*upload{}, dormant: map[string]listed{}, save: func() {}, sem: make(chan struct{}, wire.MaxUploadsActive),
		free: make(chan []byte, wire.MaxUploadsActive)}
	us.idle = time.AfterFunc(time.Hour, us.freeBuffers)
	us.idle.Stop()
	return us
}

// buffer takes a chunk buffer; hold a place in sem first.
func (us *uploads) buffer() []byte {
	select {
	case b := <-us.free:
		return b
	default:
		return newChunkBuffer()
	}
}

// release gives a chunk buffer back.
func (us *uploads) release(b []byte) {
	select {
	case us.free <- b:
	default:
		freeChunkBuffer(b)
	}
	us.idle.Reset(bufferIdle)
}

// freeBuffers frees the chunk buffers kept.
func (us *uploads) freeBuffers() {
	for {
		select {
		case b := <-us.free:
			freeChunkBuffer(b)
		default:
			return
		}
	}
}

// upload is one file on its way, under its partial name.
type upload struct {
	id, technician string
	wire           string // the final path, cleaned
	root           *os.Root
	dir            string // the folder, in root
	part, final    string // in root
	size           int64
	want           []byte // the whole file's SHA-256; nil until UploadFinish names it (a fingerprinted start)

	mu        sync.Mutex // one chunk at a time
	overwrite bool
	offset    int64         // bytes in the partial file, checked (confirmed)
	synced    int64         // bytes of it synced to the disk
	sum       hash.Hash     // of bytes [0, offset)
	gone      bool          // finished, cancelled or discarded
	touched   time.Time     // when it was started, resumed or last took a chunk
	next      chan struct{} // closed when offset moves or the upload ends
	// bg, when not nil, is the background sync under way; it delivers
	// once, the offset it made durable or its error (see settle).
	bg chan syncResult
}

type syncResult struct {
	upTo int64
	err  error
}

func (u *upload) state() wire.UploadState {
	return wire.UploadState{ID: u.id, Offset: u.offset, Size: u.size, Chunk: wire.UploadChunk}
}

// uploadID names an upload by what it is: the same technician sending the
// same bytes to the same place meet the same upload again.
func uploadID(technician, p string, size int64, sha string) string {
	s := sha256.Sum256([]byte("peerdesk-upload\x00" + technician + "\x00" + p + "\x00" + strconv.FormatInt(size, 10) + "\x00" + sha))
	return hex.EncodeToString(s[:16])
}

// partName is the hidden name an upload grows under, beside its final name.
func partName(name, id string) string {
	for len(name) > 200 {
		_, n := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-n]
	}
	return "." + name + ".peerdesk-part-" + id[:16]
}

func decodeSHA(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return nil, refuse(errBad, "a SHA-256 is 64 hexadecimal digits")
	}
	return b, nil
}

// contentKey is what names an upload's content in its id: the file's
// SHA-256, or the client's fingerprint of it (a name space of its own).
// want is the SHA-256 when the start gave it.
func contentKey(req wire.UploadStart) (key string, want []byte, err error) {
	switch {
	case req.SHA256 != "" && req.Fingerprint != "":
		return "", nil, refuse(errBad, "an upload names its SHA-256 or a fingerprint, not both")
	case req.SHA256 != "":
		want, err := decodeSHA(req.SHA256)
		return hex.EncodeToString(want), want, err
	case req.Fingerprint != "":
		fp, err := hex.DecodeString(req.Fingerprint)
		if err != nil || len(fp) != sha256.Size {
			return "", nil, refuse(errBad, "a fingerprint is 64 hexadecimal digits")
		}
		return "fingerprint:" + hex.EncodeToString(fp), nil, nil
	}
	return "", nil, refuse(errBad, "an upload names its SHA-256 or a fingerprint of 64 hexadecimal digits")
}

// chunkCheck reads a chunk's check from its headers: exactly one of
// HeaderChunkCRC32C and HeaderChunkSHA256. It answers whether b passes.
func chunkCheck(hd http.Header) (func(b []byte) bool, error) {
	c, s := hd.Get(wire.HeaderChunkCRC32C), hd.Get(wire.HeaderChunkSHA256)
	switch {
	case c != "" && s != "":
		return nil, refuse(errBad, "a chunk carries its CRC-32C or its SHA-256, not both")
	case c != "":
		want, err := strconv.ParseUint(c, 16, 32)
		if err != nil || len(c) != 8 {
			return nil, refuse(errBad, "a CRC-32C is 8 hexadecimal digits")
		}
		return func(b []byte) bool { return crc32.Checksum(b, castagnoli) == uint32(want) }, nil
	}
	want, err := decodeSHA(s)
	if err != nil {
		return nil, err
	}
	return func(b []byte) bool { got := sha256.Sum256(b); return bytes.Equal(got[:], want) }, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (h *Handler) uploadStart(w http.ResponseWriter, r *http.Request) {
	var req wire.UploadStart
	if err := gate.DecodeRequest(w, r, &req); err != nil {
		h.fail(w, r, refuse(errBad, "%s", err))
		return
	}
	u, err := h.startUpload(caller(r).Technician, req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u.mu.Lock()
	st := u.state()
	u.mu.Unlock()
	writeJSON(w, st)
}

func (h *Handler) startUpload(technician string, req wire.UploadStart) (*upload, error) {
	if req.Size < 0 || req.Size > wire.MaxUploadSize {
		return nil, refuse(errBad, "a file of %d bytes cannot be uploaded", req.Size)
	}
	key, want, err := contentKey(req)
	if err != nil {
		return nil, err
	}
	pl, err := h.resolve(req.Path)
	if err != nil {
		return nil, err
	}
	if pl.rel == "." {
		return nil, refuse(errBad, "choose a file name")
	}
	dirPath, name, err := parentAndName(pl.wire)
	if err != nil {
		return nil, err
	}
	dir, err := h.resolve(dirPath)
	if err != nil {
		return nil, err
	}
	id := uploadID(technician, pl.wire, req.Size, key)

	h.sweep()
	us := h.uploads
	us.mu.Lock()
	if u := us.m[id]; u != nil {
		// u.mu is taken without us.mu held: a chunk holding u.mu may
		// take us.mu to drop the upload.
		us.mu.Unlock()
		u.mu.Lock()
		defer u.mu.Unlock()
		if u.gone {
			return nil, refuse(errConflict, "the upload ended meanwhile: ask where it stands")
		}
		u.overwrite = req.Overwrite
		u.touched = h.cfg.Now()
		// Where it stands is answered durable: what a resumed upload
		// builds on survives a power cut.
		if err := u.sync(); err != nil {
			return nil, err
		}
		return u, nil
	}
	defer us.mu.Unlock()
	if len(us.m) >= maxUploads {
		return nil, refuse(errConflict, "the agent has %d uploads in progress; finish or cancel one", maxUploads)
	}
	if st, err := dir.root.Stat(dir.rel); err != nil {
		return nil, err
	} else if !st.IsDir() {
		return nil, refuse(errBad, "%s is not a folder", dirPath)
	}
	if fi, err := pl.root.Lstat(pl.rel); err == nil {
		if fi.IsDir() {
			return nil, refuse(errConflict, "%s is a folder", pl.wire)
		}
		if !req.Overwrite {
			return nil, refuse(errConflict, "%s already exists", pl.wire)
		}
	}
	u := &upload{id: id, technician: technician, wire: pl.wire, root: pl.root, dir: dir.rel,
		part: joinRel(dir.rel, partName(name, id)), final: pl.rel, size: req.Size, want: want,
		overwrite: req.Overwrite, sum: sha256.New(), next: make(chan struct{}), touched: h.cfg.Now()}
	if err := u.recover(); err != nil {
		if isDiskFull(err) {
			u.root.Remove(u.part) //nolint:errcheck // the answer is the full disk
			return nil, refuse(errDiskFull, "the disk is full")
		}
		return nil, err
	}
	us.m[id] = u
	delete(us.dormant, id) // taken up again
	us.save()
	h.cfg.Logger.Info("upload", "path", u.wire, "size", u.size, "from", u.offset)
	return u, nil
}

// recover opens (or creates) the partial file and keeps what is in it up
// to its last whole chunk: bytes after it may be a torn write. The
// running hash is rebuilt from those bytes.
func (u *upload) recover() error {
	f, err := u.root.OpenFile(u.part, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	have := st.Size()
	keep := have - have%wire.UploadChunk
	if have == u.size {
		keep = have
	}
	if keep > u.size {
		keep = 0
	}
	if keep != have {
		if err := f.Truncate(keep); err != nil {
			return err
		}
	}
	if keep > 0 {
		if _, err := io.CopyN(u.sum, f, keep); err != nil {
			return err
		}
	}
	u.offset, u.synced = keep, keep
	return f.Sync()
}

// get finds an upload of the caller's.
func (us *uploads) get(technician, id string) (*upload, error) {
	us.mu.Lock()
	defer us.mu.Unlock()
	u := us.m[id]
	if u == nil || u.technician != technician {
		return nil, refuse(errNotFound, "no such upload in progress: start it again")
	}
	return u, nil
}

// drop forgets u and removes its partial file. Call with u.mu held.
func (us *uploads) drop(u *upload, removePart bool) error {
	u.settle(true) //nolint:errcheck // the partial is finished with; its file is not open after this
	us.mu.Lock()
	if us.m[u.id] == u {
		delete(us.m, u.id)
		us.save()
	}
	us.mu.Unlock()
	u.gone = true
	u.moved()
	if removePart {
		return u.root.Remove(u.part)
	}
	return nil
}

func (h *Handler) uploadChunk(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	u, err := h.uploads.get(caller(r).Technician, q.Get("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	offset, err := strconv.ParseInt(q.Get("offset"), 10, 64)
	if err != nil || offset < 0 || offset%wire.UploadChunk != 0 || offset >= u.size {
		h.fail(w, r, refuse(errBad, "the offset %q is not the start of a chunk of this file", q.Get("offset")))
		return
	}
	n := min(int64(wire.UploadChunk), u.size-offset)
	if r.ContentLength >= 0 && r.ContentLength != n {
		h.fail(w, r, refuse(errBad, "the chunk at %d has %d bytes, not %d", offset, r.ContentLength, n))
		return
	}
	check, err := chunkCheck(r.Header)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// At most MaxUploadsActive chunk buffers exist at once.
	select {
	case h.uploads.sem <- struct{}{}:
	case <-r.Context().Done():
		h.fail(w, r, r.Context().Err())
		return
	}
	defer func() { <-h.uploads.sem }()
	whole := h.uploads.buffer()
	defer h.uploads.release(whole)
	buf := whole[:n]
	// A link that drops mid-chunk frees the buffer by this deadline, and
	// the client's next try meets the same confirmed offset.
	if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(chunkReadTimeout)); err != nil {
		h.cfg.Logger.Debug("no read deadline", "err", err)
	}
	body := http.MaxBytesReader(w, r.Body, n)
	if _, err := io.ReadFull(body, buf); err != nil {
		h.fail(w, r, refuse(errBad, "the chunk at %d ended early: %v", offset, err))
		return
	}
	if m, _ := body.Read(make([]byte, 1)); m > 0 { //nolint:errcheck // only more data matters
		h.fail(w, r, refuse(errBad, "the chunk at %d is longer than %d bytes", offset, n))
		return
	}
	if !check(buf) {
		h.fail(w, r, refuse(errBad, "the chunk at %d does not match its check: send it again", offset))
		return
	}

	if err := r.Context().Err(); err != nil { // the user ended the session meanwhile
		h.fail(w, r, err)
		return
	}
	// A client may send the next chunk while this one is written and
	// synced (a window of aheadChunks): it waits here for its turn.
	if err := u.waitTurn(r.Context(), offset); err != nil {
		h.fail(w, r, err)
		return
	}
	defer u.mu.Unlock()
	switch {
	case u.gone:
		h.fail(w, r, refuse(errNotFound, "no such upload in progress: start it again"))
		return
	case u.offset != offset:
		h.fail(w, r, refuse(errConflict, "the upload stands at %d, not %d: ask where it stands", u.offset, offset))
		return
	}
	// A background sync that failed fails this chunk: the bytes it was
	// to make durable may be lost, so the client must ask where the
	// upload stands (and the answer syncs again).
	err = u.settle(false)
	if err == nil {
		err = u.write(buf, offset, offset+n == u.size)
	}
	if err != nil {
		if isDiskFull(err) {
			h.uploads.drop(u, true) //nolint:errcheck // the answer is the full disk; the partial goes if it can
			h.cfg.Logger.Info("upload stopped: the disk is full", "path", u.wire, "at", offset)
			h.fail(w, r, refuse(errDiskFull, "the disk is full"))
			return
		}
		h.fail(w, r, err)
		return
	}
	u.sum.Write(buf)
	u.offset += n
	u.touched = h.cfg.Now()
	if u.offset == u.size {
		u.synced = u.offset
	} else if u.offset-u.synced >= syncEvery && u.bg == nil {
		u.syncInBackground()
	}
	u.moved()
	writeJSON(w, u.state())
}

// syncInBackground starts syncing the partial up to the confirmed offset
// while later chunks are written. Call with u.mu held and no sync under
// way.
func (u *upload) syncInBackground() {
	upTo := u.offset
	ch := make(chan syncResult, 1)
	u.bg = ch
	go func() {
		f, err := u.root.OpenFile(u.part, os.O_WRONLY, 0)
		if err == nil {
			err = errors.Join(f.Sync(), f.Close())
		}
		ch <- syncResult{upTo, err}
	}()
}

// settle takes the result of a background sync: if wait, it waits for one
// under way; else it takes one only if it has ended. Call with u.mu held.
func (u *upload) settle(wait bool) error {
	if u.bg == nil {
		return nil
	}
	var res syncResult
	if wait {
		res = <-u.bg
	} else {
		select {
		case res = <-u.bg:
		default:
			return nil
		}
	}
	u.bg = nil
	if res.err != nil {
		return res.err
	}
	u.synced = max(u.synced, res.upTo)
	return nil
}

// aheadChunks is how far ahead of the confirmed offset a chunk may arrive
// and wait for its turn.
const aheadChunks = 1

// waitTurn waits until the chunk at offset is the next to write (or the
// upload ends, or offset is not ahead of it), and returns with u.mu held.
func (u *upload) waitTurn(ctx context.Context, offset int64) error {
	timeout := time.NewTimer(chunkReadTimeout)
	defer timeout.Stop()
	for {
		u.mu.Lock()
		if u.gone || offset <= u.offset || offset > u.offset+aheadChunks*wire.UploadChunk {
			return nil
		}
		ch := u.next
		u.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C:
			return refuse(errConflict, "the chunk before %d never came: ask where it stands", offset)
		}
	}
}

// moved wakes chunks waiting for their turn. Call with u.mu held.
func (u *upload) moved() {
	close(u.next)
	u.next = make(chan struct{})
}

// write puts one checked chunk at offset, and syncs the partial file if
// sync; a failed write is cut back to offset.
func (u *upload) write(b []byte, offset int64, sync bool) error {
	f, err := u.root.OpenFile(u.part, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(b, offset)
	if err == nil && sync {
		err = f.Sync()
	}
	if err != nil {
		if terr := f.Truncate(offset); terr != nil {
			err = errors.Join(err, terr)
		}
	}
	return errors.Join(err, f.Close())
}

// sync makes every confirmed byte durable. Call with u.mu held.
func (u *upload) sync() error {
	if u.gone {
		return nil
	}
	if err := u.settle(true); err != nil {
		return err
	}
	if u.synced == u.offset {
		return nil
	}
	f, err := u.root.OpenFile(u.part, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if err = errors.Join(err, f.Close()); err != nil {
		return err
	}
	u.synced = u.offset
	return nil
}

func (h *Handler) uploadFinish(w http.ResponseWriter, r *http.Request) {
	var req wire.UploadFinish
	if err := gate.DecodeRequest(w, r, &req); err != nil {
		h.fail(w, r, refuse(errBad, "%s", err))
		return
	}
	u, err := h.uploads.get(caller(r).Technician, req.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.gone {
		h.fail(w, r, refuse(errNotFound, "no such upload in progress: start it again"))
		return
	}
	if u.offset != u.size {
		h.fail(w, r, refuse(errConflict, "the upload is not complete: %d of %d bytes", u.offset, u.size))
		return
	}
	switch {
	case req.SHA256 == "" && u.want == nil:
		h.fail(w, r, refuse(errBad, "this upload was started with a fingerprint: finishing it needs the file's SHA-256"))
		return
	case req.SHA256 != "":
		named, err := decodeSHA(req.SHA256)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if u.want != nil && !bytes.Equal(named, u.want) {
			h.fail(w, r, refuse(errBad, "the SHA-256 at the finish is not the one the upload started with"))
			return
		}
		u.want = named
	}
	if got := u.sum.Sum(nil); !bytes.Equal(got, u.want) {
		h.uploads.drop(u, true) //nolint:errcheck // discarded either way
		h.fail(w, r, refuse(errConflict, "the file's SHA-256 does not match what was sent: the upload was discarded"))
		return
	}
	if err := u.commit(); err != nil {
		if isDiskFull(err) {
			h.uploads.drop(u, true) //nolint:errcheck // the answer is the full disk
			err = refuse(errDiskFull, "the disk is full")
		}
		h.fail(w, r, err)
		return
	}
	h.uploads.drop(u, false) //nolint:errcheck // nothing to remove
	if err := h.audit(r, "upload", u.wire, map[string]string{"size": strconv.FormatInt(u.size, 10), "sha256": hex.EncodeToString(u.want),
		"overwrite": strconv.FormatBool(u.overwrite)}); err != nil {
		h.fail(w, r, err)
		return
	}
	h.cfg.Logger.Info("uploaded", "path", u.wire, "size", u.size)
	fi, err := u.root.Lstat(u.final)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	_, name, _ := parentAndName(u.wire)
	writeJSON(w, infoOf(name, fi))
}

// commit syncs the complete partial file, gives it its final name and
// syncs the folder.
func (u *upload) commit() error {
	if err := u.settle(true); err != nil {
		return err
	}
	f, err := u.root.OpenFile(u.part, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Chmod(0o644)
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return err
	}
	if !u.overwrite {
		if _, err := u.root.Lstat(u.final); err == nil {
			return refuse(errConflict, "%s appeared meanwhile; upload again with overwrite", u.wire)
		}
	}
	if err := u.root.Rename(u.part, u.final); err != nil {
		return err
	}
	if err := syncDir(u.root, u.dir); err != nil {
		return fmt.Errorf("syncing the folder: %w", err)
	}
	return nil
}

func (h *Handler) uploadCancel(w http.ResponseWriter, r *http.Request) {
	var req wire.UploadCancel
	if err := gate.DecodeRequest(w, r, &req); err != nil {
		h.fail(w, r, refuse(errBad, "%s", err))
		return
	}
	u, err := h.uploads.get(caller(r).Technician, req.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.gone {
		if err := h.uploads.drop(u, true); err != nil && !errors.Is(err, os.ErrNotExist) {
			h.fail(w, r, err)
			return
		}
	}
	if err := h.audit(r, "upload.cancel", u.wire, map[string]string{"at": strconv.FormatInt(u.offset, 10)}); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, struct{}{})
}
