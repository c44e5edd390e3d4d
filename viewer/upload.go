package viewer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

// Upload is one file to send.
type Upload struct {
	Path string
	Size int64
	// SHA256 is the whole file's, hex, if known before the first byte is
	// sent (the CLI hashes the file while its node joins the overlay). If
	// empty, the upload starts with a fingerprint of the file and the
	// file is hashed as it is sent, in the same pass.
	SHA256 string
	// ModTime, if set, goes into that fingerprint: the same path, size
	// and first and last bytes with another time is another upload.
	ModTime   time.Time
	Overwrite bool
	Progress  Progress
}

// Upload sends the file r holds to u.Path in chunks, each checked by the
// agent as it arrives (CRC-32C), Window of them on the way at once (the
// next one travels while the agent writes and syncs the one before);
// after a dropped link it asks the agent where the upload stands and
// continues from there, so a cut costs at most the chunks that were on
// the way. It ends with the agent checking the whole file's SHA-256
// before the file takes its name. An agent from before fingerprinted
// uploads (which refuses a start without a SHA-256 or a chunk without
// one) is sent the file the old way: hashed first, SHA-256 per chunk.
func (f *Files) Upload(ctx context.Context, u Upload, r io.ReaderAt) (wire.FileInfo, error) {
	window := f.window()
	start := wire.UploadStart{Path: u.Path, Size: u.Size, SHA256: u.SHA256, Overwrite: u.Overwrite}
	var whole *rollingHash // the file hashed as its chunks are confirmed
	if u.SHA256 == "" {
		fp, err := Fingerprint(r, u.Size, u.ModTime)
		if err != nil {
			return wire.FileInfo{}, err
		}
		start.Fingerprint, whole = fp, &rollingHash{h: sha256.New()}
	}
	var legacy atomic.Bool // the agent wants SHA-256 chunk headers
	type result struct {
		st  wire.UploadState
		at  int64
		b   []byte
		err error
	}
	var (
		st       wire.UploadState
		bufs     = make([][]byte, window)
		pending  []chan result
		seq      int   // chunks launched, for their buffers
		next     int64 // the offset of the next chunk to launch
		failures int
		fresh    bool // st is the agent's current answer
	)
	drain := func() {
		for _, p := range pending {
			<-p
		}
		pending = nil
	}
	defer drain()
	for {
		var err error
		if !fresh {
			err = f.call(ctx, http.MethodPost, wire.PeerPathFilesUploadStart, nil, start, &st)
			if isBadRequest(err) && start.Fingerprint != "" {
				// An agent from before fingerprints: the old way.
				if start.SHA256, err = hashAll(r, u.Size); err != nil {
					return wire.FileInfo{}, err
				}
				start.Fingerprint, whole = "", nil
				legacy.Store(true)
				err = f.call(ctx, http.MethodPost, wire.PeerPathFilesUploadStart, nil, start, &st)
			}
			fresh, next = err == nil, st.Offset
			if err == nil && (st.Chunk <= 0 || st.Chunk > wire.UploadChunk) {
				return wire.FileInfo{}, fmt.Errorf("viewer: the agent asks for chunks of %d bytes", st.Chunk)
			}
		}
		if err == nil && st.Offset < st.Size {
			for len(pending) < window && next < st.Size {
				n := min(int64(st.Chunk), st.Size-next)
				i := seq % window
				if int64(cap(bufs[i])) < n {
					bufs[i] = make([]byte, st.Chunk)
				}
				b := bufs[i][:n]
				if _, err := r.ReadAt(b, next); err != nil && !errors.Is(err, io.EOF) {
					return wire.FileInfo{}, err
				}
				ch := make(chan result, 1)
				at := wire.UploadState{ID: st.ID, Offset: next, Size: st.Size}
				go func() {
					var out wire.UploadState
					old := legacy.Load()
					err := f.putChunk(ctx, at, b, chunkCheck(b, old), Upload{}, &out)
					if isBadRequest(err) && !old {
						legacy.Store(true)
						// An agent from before CRC-32C checks: the
						// same chunk with its SHA-256, and every
						// later one.
						err = f.putChunk(ctx, at, b, chunkCheck(b, true), Upload{}, &out)
					}
					ch <- result{out, at.Offset, b, err}
				}()
				pending = append(pending, ch)
				seq++
				next += n
			}
			res := <-pending[0]
			pending = pending[1:]
			if err = res.err; err == nil {
				st, failures = res.st, 0
				// In order and before its buffer is used again: the
				// chunk goes into the file's hash, no second read.
				if err := whole.add(r, res.at, res.b); err != nil {
					return wire.FileInfo{}, err
				}
				if u.Progress != nil {
					u.Progress(st.Offset, st.Size)
				}
				continue
			}
			drain()
			fresh = false
		} else if err == nil {
			fin := wire.UploadFinish{ID: st.ID}
			if whole != nil {
				// The last chunks, if the agent took them but their
				// answers were lost, are read again here.
				if fin.SHA256, err = whole.sum(r, st.Size); err != nil {
					return wire.FileInfo{}, err
				}
			}
			var fi wire.FileInfo
			if err = f.call(ctx, http.MethodPost, wire.PeerPathFilesUploadFinish, nil, fin, &fi); err == nil {
				return fi, nil
			}
			fresh = false
		}
		if !retryable(err) || ctx.Err() != nil {
			return wire.FileInfo{}, err
		}
		if failures++; failures >= f.attempts() {
			return wire.FileInfo{}, fmt.Errorf("viewer: giving up after %d tries: %w", failures, err)
		}
		if err := f.pause(ctx, failures); err != nil {
			return wire.FileInfo{}, err
		}
	}
}

// Fingerprint names a file's content for an upload's start without
// reading all of it: the SHA-256 of its size, its modification time (if
// not zero) and its first and last chunk. The file's SHA-256 proper is
// checked at the finish; the fingerprint only lets the same transfer,
// started again, meet its partial file on the agent.
func Fingerprint(r io.ReaderAt, size int64, mod time.Time) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "peerdesk-upload-fingerprint\x00%d\x00", size)
	if !mod.IsZero() {
		fmt.Fprintf(h, "%d", mod.UnixNano())
	}
	h.Write([]byte{0})
	head := min(size, wire.UploadChunk)
	tail := min(size-head, wire.UploadChunk)
	for _, s := range []*io.SectionReader{io.NewSectionReader(r, 0, head), io.NewSectionReader(r, size-tail, tail)} {
		if _, err := io.Copy(h, s); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// rollingHash is the SHA-256 of a file's bytes [0, at).
type rollingHash struct {
	h  hash.Hash
	at int64
}

// add takes the bytes b at offset. Bytes before them not yet hashed
// (chunks the agent took whose answers were lost) are read from r first;
// bytes already hashed are not taken again.
func (w *rollingHash) add(r io.ReaderAt, offset int64, b []byte) error {
	if w == nil || offset+int64(len(b)) <= w.at {
		return nil
	}
	if offset > w.at {
		if _, err := io.Copy(w.h, io.NewSectionReader(r, w.at, offset-w.at)); err != nil {
			return err
		}
		w.at = offset
	}
	w.h.Write(b[w.at-offset:])
	w.at = offset + int64(len(b))
	return nil
}

// sum hashes what is missing of r's first size bytes and answers the
// SHA-256, hex.
func (w *rollingHash) sum(r io.ReaderAt, size int64) (string, error) {
	if _, err := io.Copy(w.h, io.NewSectionReader(r, w.at, size-w.at)); err != nil {
		return "", err
	}
	w.at = size
	return hex.EncodeToString(w.h.Sum(nil)), nil
}

func hashAll(r io.ReaderAt, size int64) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// chunkCheck is the header a chunk travels with: its CRC-32C, or its
// SHA-256 for an agent from before CRC-32C checks (legacy).
func chunkCheck(b []byte, legacy bool) http.Header {
	if legacy {
		s := sha256.Sum256(b)
		return http.Header{wire.HeaderChunkSHA256: {hex.EncodeToString(s[:])}}
	}
	return http.Header{wire.HeaderChunkCRC32C: {fmt.Sprintf("%08x", crc32.Checksum(b, castagnoli))}}
}

func isBadRequest(err error) bool {
	var we *wire.Error
	return errors.As(err, &we) && we.Code == wire.CodeBadRequest
}

// putChunk sends one chunk at st.Offset with its check's header.
func (f *Files) putChunk(ctx context.Context, st wire.UploadState, b []byte, check http.Header, u Upload, out *wire.UploadState) error {
	hdr := http.Header{"Content-Type": {"application/octet-stream"}, "Content-Length": {strconv.Itoa(len(b))}}
	for k, v := range check {
		hdr[k] = v
	}
	q := url.Values{"id": {st.ID}, "offset": {strconv.FormatInt(st.Offset, 10)}}
	body := &progressReader{r: bytes.NewReader(b), done: st.Offset, total: st.Size, p: u.Progress, count: &f.sent}
	resp, done, err := f.do(ctx, http.MethodPut, wire.PeerPathFilesUploadChunk, q, body, hdr)
	if err != nil {
		return err
	}
	defer done()
	defer resp.Body.Close()
	return json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(out)
}

// StartUpload starts an upload, or answers where the same upload stands.
func (f *Files) StartUpload(ctx context.Context, s wire.UploadStart) (wire.UploadState, error) {
	var st wire.UploadState
	err := f.call(ctx, http.MethodPost, wire.PeerPathFilesUploadStart, nil, s, &st)
	return st, err
}

// PutChunk sends the chunk b at offset of upload id (of a file of size
// bytes) with its SHA-256 as the sender computed it (hex; computed here if
// empty): the agent checks it against the bytes it receives.
func (f *Files) PutChunk(ctx context.Context, id string, offset, size int64, b []byte, sha string) (wire.UploadState, error) {
	var st wire.UploadState
	check := chunkCheck(b, true)
	if sha != "" {
		check = http.Header{wire.HeaderChunkSHA256: {sha}}
	}
	err := f.putChunk(ctx, wire.UploadState{ID: id, Offset: offset, Size: size}, b, check, Upload{}, &st)
	return st, err
}

// FinishUpload completes an upload whose every chunk is confirmed; sha is
// the file's SHA-256 (hex) if the start named a fingerprint.
func (f *Files) FinishUpload(ctx context.Context, id, sha string) (wire.FileInfo, error) {
	var fi wire.FileInfo
	err := f.call(ctx, http.MethodPost, wire.PeerPathFilesUploadFinish, nil, wire.UploadFinish{ID: id, SHA256: sha}, &fi)
	return fi, err
}

// CancelUpload abandons an upload; the agent removes its partial file.
func (f *Files) CancelUpload(ctx context.Context, id string) error {
	return f.call(ctx, http.MethodPost, wire.PeerPathFilesUploadCancel, nil, wire.UploadCancel{ID: id}, nil)
}
