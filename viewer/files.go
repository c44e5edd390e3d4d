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
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

// Files is a client of one agent's files capability (wire.CapFiles) over
// the overlay, with a grant. Transfers resume by themselves after the
// link drops: a download continues from the last byte received, an upload
// from the agent's last confirmed chunk, and both end with the whole
// file's SHA-256 checked.
type Files struct {
	// HTTP reaches the agent (over the overlay: Viewer.Files sets it).
	HTTP *http.Client
	// Base is the agent's address, "http://100.64.0.3:7070".
	Base  string
	Grant string
	// Renew, if set, fetches a new grant when the agent says the one in
	// hand has expired.
	Renew func(ctx context.Context) (string, error)
	// Stall cuts a request that moved no byte for this long, so a transfer
	// whose link dropped resumes instead of waiting on a dead connection
	// (DefaultStall if zero).
	Stall time.Duration
	// Attempts bounds the tries of one transfer step in a row
	// (DefaultAttempts if zero); Pause is the wait between them
	// (DefaultPause if zero, doubling up to 8 times it).
	Attempts int
	Pause    time.Duration
	// Window is how many upload chunks may be on the way at once
	// (DefaultWindow if zero; 1 sends one at a time, so a cut link costs
	// at most one chunk).
	Window int

	mu   sync.Mutex
	sent atomic.Int64 // upload bytes put on the wire, resent ones included
}

// Defaults of Files.
const (
	DefaultStall    = 15 * time.Second
	DefaultAttempts = 40
	DefaultPause    = 500 * time.Millisecond
	DefaultWindow   = 2
)

// Files returns a client of device's files capability, with a grant for
// it from the coordinator.
func (v *Viewer) Files(ctx context.Context, device string) (*Files, error) {
	g, err := v.Grant(ctx, device, wire.CapFiles)
	if err != nil {
		return nil, err
	}
	n, err := v.Node(ctx)
	if err != nil {
		return nil, err
	}
	return &Files{
		// Large write buffers: net/http copies a request body through its
		// 4 KiB default, and each write is a trip through the overlay's
		// TCP stack (uploads ran at a third of downloads' speed).
		HTTP: &http.Client{Transport: &http.Transport{DialContext: n.Dial, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute,
			WriteBufferSize: 256 << 10, ReadBufferSize: 64 << 10}},
		Base:  "http://" + net.JoinHostPort(g.OverlayIP, strconv.Itoa(wire.PeerPort)),
		Grant: g.Grant,
		Renew: func(ctx context.Context) (string, error) {
			g, err := v.Grant(ctx, device, wire.CapFiles)
			return g.Grant, err
		},
	}, nil
}

// Sent is how many upload bytes this client has put on the wire, resent
// ones included.
func (f *Files) Sent() int64 { return f.sent.Load() }

func (f *Files) grant() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Grant
}

// do makes one call; a refusal is a *wire.Error. The request is cut when
// it moves no byte for Stall.
func (f *Files) do(ctx context.Context, method, path string, q url.Values, body io.Reader, hdr http.Header) (*http.Response, context.CancelFunc, error) {
	u := f.Base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	ctx, cancel := context.WithCancel(ctx)
	w := newWatchdog(f.stall(), cancel)
	if body != nil {
		body = w.reader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		w.stop()
		cancel()
		return nil, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if cl, ok := hdr["Content-Length"]; ok && len(cl) == 1 {
		req.ContentLength, _ = strconv.ParseInt(cl[0], 10, 64) //nolint:errcheck // set by this file, always a number
		req.Header.Del("Content-Length")
	}
	req.Header.Set(wire.HeaderGrant, f.grant())
	resp, err := f.HTTP.Do(req)
	if err != nil {
		w.stop()
		cancel()
		if w.fired() {
			err = fmt.Errorf("%w: %w", ErrStalled, err)
		}
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		defer cancel()
		w.stop()
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return nil, nil, err
		}
		var e wire.Error
		if json.Unmarshal(data, &e) != nil || e.Code == "" {
			e = wire.Error{Code: wire.CodeInternal, Message: resp.Status}
		}
		return nil, nil, &e
	}
	resp.Body = w.readCloser(resp.Body)
	return resp, func() { w.stop(); cancel() }, nil
}

// ErrStalled: a transfer moved no byte for Files.Stall; it is resumed.
var ErrStalled = errors.New("viewer: the transfer stalled")

// call makes a JSON call (in may be nil) and decodes the answer into out.
// An expired grant is renewed once.
func (f *Files) call(ctx context.Context, method, path string, q url.Values, in, out any) error {
	for try := 0; ; try++ {
		var body io.Reader
		hdr := http.Header{}
		if in != nil {
			b, err := json.Marshal(in)
			if err != nil {
				return err
			}
			body = bytes.NewReader(b)
			hdr.Set("Content-Type", "application/json")
		}
		resp, done, err := f.do(ctx, method, path, q, body, hdr)
		if err != nil {
			if try == 0 && f.renew(ctx, err) {
				continue
			}
			return err
		}
		defer done()
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		if err != nil {
			return err
		}
		if out == nil {
			return nil
		}
		return json.Unmarshal(data, out)
	}
}

// renew fetches a new grant when err says the one in hand expired.
func (f *Files) renew(ctx context.Context, err error) bool {
	var we *wire.Error
	if f.Renew == nil || !errors.As(err, &we) || we.Code != wire.CodeExpired {
		return false
	}
	g, rerr := f.Renew(ctx)
	if rerr != nil {
		return false
	}
	f.mu.Lock()
	f.Grant = g
	f.mu.Unlock()
	return true
}

// List lists a folder ("/" is the top).
func (f *Files) List(ctx context.Context, p string) (wire.FileList, error) {
	var l wire.FileList
	err := f.call(ctx, http.MethodGet, wire.PeerPathFilesList, url.Values{"path": {p}}, nil, &l)
	return l, err
}

// Mkdir makes a folder.
func (f *Files) Mkdir(ctx context.Context, p string) (wire.FileInfo, error) {
	var fi wire.FileInfo
	err := f.call(ctx, http.MethodPost, wire.PeerPathFilesMkdir, nil, wire.FileMkdir{Path: p}, &fi)
	return fi, err
}

// Rename renames from to to.
func (f *Files) Rename(ctx context.Context, from, to string) (wire.FileInfo, error) {
	var fi wire.FileInfo
	err := f.call(ctx, http.MethodPost, wire.PeerPathFilesRename, nil, wire.FileRename{From: from, To: to}, &fi)
	return fi, err
}

// Delete deletes a file, or a folder with everything in it if recursive.
func (f *Files) Delete(ctx context.Context, p string, recursive bool) error {
	return f.call(ctx, http.MethodPost, wire.PeerPathFilesDelete, nil, wire.FileDelete{Path: p, Recursive: recursive}, nil)
}

// Progress is told how many of total bytes are done.
type Progress func(done, total int64)

// Download is one file to fetch.
type Download struct {
	Path string
	// Offset is how many bytes of the file the caller already holds
	// (from an earlier, cut run); Hash is their SHA-256 state. Zero and
	// nil start from the beginning.
	Offset   int64
	Hash     hash.Hash
	Progress Progress
	// Start, if set, is told the file's size before the first byte is
	// written (a proxy sets its Content-Length).
	Start func(size int64)
}

// ErrHashMismatch: the bytes received do not hash to what the agent
// says the file's SHA-256 is.
var ErrHashMismatch = errors.New("viewer: the file received does not match its SHA-256")

// Download writes the file's bytes from d.Offset to w, resuming after
// each dropped link from the last byte written, and checks the whole
// file's SHA-256 against the agent's. It answers the size and the hash.
func (f *Files) Download(ctx context.Context, d Download, w io.Writer) (int64, string, error) {
	sum := d.Hash
	if sum == nil {
		sum, d.Offset = sha256.New(), 0
	}
	offset, ver, size := d.Offset, "", int64(-1)
	failures := 0
	// io.Copy's 32 KiB buffer made a write and a hash call per 32 KiB.
	buf := make([]byte, downloadBuffer)
	for {
		q := url.Values{"path": {d.Path}, "offset": {strconv.FormatInt(offset, 10)}}
		if ver != "" {
			q.Set("version", ver)
		}
		resp, done, err := f.do(ctx, http.MethodGet, wire.PeerPathFilesDownload, q, nil, nil)
		if err == nil {
			ver = resp.Header.Get(wire.HeaderFileVersion)
			if size, err = strconv.ParseInt(resp.Header.Get(wire.HeaderFileSize), 10, 64); err != nil {
				resp.Body.Close()
				done()
				return 0, "", fmt.Errorf("viewer: the agent sent no file size")
			}
			if d.Start != nil {
				d.Start(size)
				d.Start = nil
			}
			var n int64
			n, err = io.CopyBuffer(io.MultiWriter(w, sum), &progressReader{r: resp.Body, done: offset, total: size, p: d.Progress}, buf)
			offset += n
			if n > 0 {
				failures = 0
			}
			trailer := resp.Trailer.Get(wire.HeaderFileSHA256)
			resp.Body.Close()
			done()
			if err == nil && offset == size && trailer != "" {
				got := hex.EncodeToString(sum.Sum(nil))
				if got != trailer {
					return size, got, fmt.Errorf("%w (got %s, the agent says %s)", ErrHashMismatch, got, trailer)
				}
				return size, got, nil
			}
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
		}
		if f.renew(ctx, err) {
			continue
		}
		if !retryable(err) || ctx.Err() != nil {
			return offset, "", err
		}
		if failures++; failures >= f.attempts() {
			return offset, "", fmt.Errorf("viewer: giving up after %d tries: %w", failures, err)
		}
		if err := f.pause(ctx, failures); err != nil {
			return offset, "", err
		}
	}
}

// downloadBuffer is the buffer a download is copied through.
const downloadBuffer = 256 << 10

// retryable: a dropped link, a stall, an agent that could not answer; not
// a refusal.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	var we *wire.Error
	if errors.As(err, &we) {
		switch we.Code {
		case wire.CodeInternal: // a 5xx on the way, or the agent could not answer
			return true
		case wire.CodeConflict: // an upload's offset moved on: ask where it stands
			return strings.Contains(we.Message, "ask where it stands")
		}
		return false
	}
	return true
}

func (f *Files) stall() time.Duration {
	if f.Stall <= 0 {
		return DefaultStall
	}
	return f.Stall
}

func (f *Files) window() int {
	if f.Window <= 0 {
		return DefaultWindow
	}
	return f.Window
}

func (f *Files) attempts() int {
	if f.Attempts <= 0 {
		return DefaultAttempts
	}
	return f.Attempts
}

// pause waits before the try after failures failed ones.
func (f *Files) pause(ctx context.Context, failures int) error {
	d := f.Pause
	if d <= 0 {
		d = DefaultPause
	}
	d <<= min(failures-1, 3)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// progressReader tells p of every read and counts the bytes.
type progressReader struct {
	r           io.Reader
	done, total int64
	p           Progress
	count       *atomic.Int64
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if n > 0 {
		r.done += int64(n)
		if r.count != nil {
			r.count.Add(int64(n))
		}
		if r.p != nil {
			r.p(r.done, r.total)
		}
	}
	return n, err
}

// watchdog cancels a request that moves no byte for a span.
type watchdog struct {
	t     *time.Timer
	span  time.Duration
	fire  atomic.Bool
	ended atomic.Bool
}

func newWatchdog(span time.Duration, cancel context.CancelFunc) *watchdog {
	w := &watchdog{span: span}
	w.t = time.AfterFunc(span, func() {
		if !w.ended.Load() {
			w.fire.Store(true)
			cancel()
		}
	})
	return w
}

func (w *watchdog) kick()       { w.t.Reset(w.span) }
func (w *watchdog) stop()       { w.ended.Store(true); w.t.Stop() }
func (w *watchdog) fired() bool { return w.fire.Load() }

func (w *watchdog) reader(r io.Reader) io.Reader { return &kicking{r: r, w: w} }

func (w *watchdog) readCloser(rc io.ReadCloser) io.ReadCloser {
	return struct {
		io.Reader
		io.Closer
	}{&kicking{r: rc, w: w}, rc}
}

type kicking struct {
	r io.Reader
	w *watchdog
}

func (k *kicking) Read(b []byte) (int, error) {
	n, err := k.r.Read(b)
	if n > 0 {
		k.w.kick()
	}
	if err != nil && k.w.fired() {
		err = fmt.Errorf("%w: %w", ErrStalled, err)
	}
	return n, err
}

// Archive streams the folder p as a tar archive. Close the reader.
func (f *Files) Archive(ctx context.Context, p string) (io.ReadCloser, error) {
	resp, done, err := f.do(ctx, http.MethodGet, wire.PeerPathFilesArchive, url.Values{"path": {p}}, nil, nil)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{resp.Body, closerFunc(func() error { err := resp.Body.Close(); done(); return err })}, nil
}

// Extract sends a tar archive to be written into the folder p.
func (f *Files) Extract(ctx context.Context, p string, r io.Reader) (wire.ExtractResult, error) {
	var res wire.ExtractResult
	resp, done, err := f.do(ctx, http.MethodPut, wire.PeerPathFilesExtract, url.Values{"path": {p}}, r, http.Header{"Content-Type": {"application/x-tar"}})
	if err != nil {
		return res, err
	}
	defer done()
	defer resp.Body.Close()
	err = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&res)
	return res, err
}

type closerFunc func() error

func (c closerFunc) Close() error { return c() }
