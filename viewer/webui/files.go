package webui

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/templates/viewerui"
	"github.com/peerdesk/peerdesk/viewer"
	"github.com/peerdesk/peerdesk/wire"
)

// filesUI is a machine's files page (R3): a listing read peer to peer,
// forms for a folder, a rename and a delete (they work without script),
// downloads streamed through this page from the agent (resumed here when
// the link drops), and uploads that the page's script sends chunk by
// chunk, each forwarded to the agent as it comes.
type filesUI struct {
	s  *Server
	mu sync.Mutex
	// clients holds one files client per machine (its grant renews
	// itself), so chunks reuse the overlay connection.
	clients map[string]*viewer.Files
}

// registerFiles adds the files page and its API to mux.
func (s *Server) registerFiles(mux *http.ServeMux) {
	f := &filesUI{s: s, clients: map[string]*viewer.Files{}}
	mux.HandleFunc("GET /device/{id}/files", f.page)
	mux.HandleFunc("POST /device/{id}/files/mkdir", f.mkdir)
	mux.HandleFunc("POST /device/{id}/files/rename", f.rename)
	mux.HandleFunc("POST /device/{id}/files/delete", f.remove)
	mux.HandleFunc("GET /api/files/{id}/download", f.download)
	mux.HandleFunc("GET /api/files/{id}/archive", f.archive)
	mux.HandleFunc("POST /api/files/{id}/upload/start", f.start)
	mux.HandleFunc("PUT /api/files/{id}/upload/chunk", f.chunk)
	mux.HandleFunc("POST /api/files/{id}/upload/finish", f.finish)
	mux.HandleFunc("POST /api/files/{id}/upload/cancel", f.cancel)
}

// callTimeout bounds a call that is not a transfer.
const callTimeout = 30 * time.Second

func (f *filesUI) client(ctx context.Context, device string) (*viewer.Files, error) {
	f.mu.Lock()
	c := f.clients[device]
	f.mu.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := f.s.v.Files(ctx, device)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if old := f.clients[device]; old != nil {
		return old, nil
	}
	f.clients[device] = c
	return c, nil
}

func (f *filesUI) page(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("path")
	if p == "" {
		p = "/"
	}
	if crossSite(r) {
		// Another site led here: nothing is read from the machine (a
		// listing asks its user and is audited) until the technician
		// clicks through.
		v := viewerui.Files{Device: r.PathValue("id"), Path: p, CSRF: f.s.csrf(), Confirm: true}
		v.Crumbs = crumbs("/")
		f.s.render(w, r, http.StatusOK, viewerui.FilesPage(v))
		return
	}
	f.render(w, r, http.StatusOK, p, "")
}

// sameSite refuses a transfer another site started: a download or an
// archive is a GET that a link elsewhere could aim at this page (the
// cookie is SameSite=Lax), and a chunk must carry the page's CSRF header.
func (f *filesUI) sameSite(w http.ResponseWriter, r *http.Request) bool {
	ok := !crossSite(r)
	if r.Method != http.MethodGet {
		ok = ok && subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Peerdesk-CSRF")), []byte(f.s.csrf())) == 1
	}
	if !ok {
		writeJSON(w, http.StatusForbidden, wire.Error{Code: wire.CodeForbidden, Message: "transfers start from the files page itself"})
	}
	return ok
}

// render shows the folder p of the machine, with msg as an error.
func (f *filesUI) render(w http.ResponseWriter, r *http.Request, status int, p, msg string) {
	device := r.PathValue("id")
	v := viewerui.Files{Device: device, Path: p, CSRF: f.s.csrf(), Error: msg}
	if c, err := wire.CleanFilePath(p); err == nil {
		v.Path = c
	}
	v.Crumbs = crumbs(v.Path)
	cfg, _ := json.Marshal(map[string]string{"device": device, "path": v.Path, "csrf": v.CSRF}) //nolint:errcheck // strings cannot fail
	v.Config = string(cfg)
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	c, err := f.client(ctx, device)
	var l wire.FileList
	if err == nil {
		l, err = c.List(ctx, v.Path)
	}
	if err != nil {
		if v.Error == "" {
			v.Error = "The folder could not be read: " + peerMessage(err)
		}
		if status == http.StatusOK {
			status = http.StatusBadGateway
			if we, ok := err.(*wire.Error); ok && we.Code != wire.CodeInternal {
				status = http.StatusForbidden
				if we.Code == wire.CodeNotFound || we.Code == wire.CodeBadRequest {
					status = http.StatusNotFound
				}
			}
		}
	}
	v.Truncated = l.Truncated
	for _, e := range l.Entries {
		fe := viewerui.FileEntry{Name: e.Name, Path: wire.JoinFilePath(v.Path, e.Name), IsDir: e.IsDir, IsLink: e.IsLink,
			Target: e.Target, Mode: e.Mode, Size: e.Size, Modified: e.ModTime.Local().Format("2006-01-02 15:04")}
		if e.IsLink && strings.HasPrefix(e.Target, "/") && e.IsDir {
			// An absolute link leads to its target (the agent's root does
			// not follow absolute links).
			if t, err := wire.CleanFilePath(e.Target); err == nil {
				fe.Path = t
			}
		}
		v.Entries = append(v.Entries, fe)
	}
	f.s.render(w, r, status, viewerui.FilesPage(v))
}

// crumbs are the links of a path's folders, the top first.
func crumbs(p string) [][2]string {
	out := [][2]string{{"/", "top"}}
	if p == "/" {
		return out
	}
	acc := ""
	for name := range strings.SplitSeq(p[1:], "/") {
		acc += "/" + name
		out = append(out, [2]string{acc, name})
	}
	return out
}

// back answers a form with a redirect to the folder (post-redirect-get),
// or the page with the error.
func (f *filesUI) back(w http.ResponseWriter, r *http.Request, dir string, err error) {
	if err != nil {
		status := http.StatusBadGateway
		if we, ok := err.(*wire.Error); ok && we.Code != wire.CodeInternal {
			status = http.StatusBadRequest
		}
		f.render(w, r, status, dir, "Not done: "+peerMessage(err))
		return
	}
	http.Redirect(w, r, "/device/"+url.PathEscape(r.PathValue("id"))+"/files?path="+url.QueryEscape(dir), http.StatusSeeOther)
}

func (f *filesUI) mkdir(w http.ResponseWriter, r *http.Request) {
	dir := r.PostFormValue("dir")
	err := f.do(r, func(ctx context.Context, c *viewer.Files) error {
		_, err := c.Mkdir(ctx, wire.JoinFilePath(dir, r.PostFormValue("name")))
		return err
	})
	f.back(w, r, dir, err)
}

func (f *filesUI) rename(w http.ResponseWriter, r *http.Request) {
	from := r.PostFormValue("path")
	dir := path.Dir(from)
	err := f.do(r, func(ctx context.Context, c *viewer.Files) error {
		_, err := c.Rename(ctx, from, wire.JoinFilePath(dir, r.PostFormValue("name")))
		return err
	})
	f.back(w, r, dir, err)
}

func (f *filesUI) remove(w http.ResponseWriter, r *http.Request) {
	p := r.PostFormValue("path")
	err := f.do(r, func(ctx context.Context, c *viewer.Files) error {
		return c.Delete(ctx, p, r.PostFormValue("recursive") == "yes")
	})
	f.back(w, r, path.Dir(p), err)
}

func (f *filesUI) do(r *http.Request, op func(context.Context, *viewer.Files) error) error {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	c, err := f.client(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	return op(ctx, c)
}

// download streams a file from the agent to the browser. A link that
// drops mid-way is resumed here, from the last byte sent on; the whole
// file's SHA-256 is checked at the end, and a mismatch (or a transfer
// that could not finish) breaks the browser's download off rather than
// letting it complete.
func (f *filesUI) download(w http.ResponseWriter, r *http.Request) {
	if !f.sameSite(w, r) {
		return
	}
	p := r.URL.Query().Get("path")
	c, err := f.client(r.Context(), r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	started := false
	_, sum, err := c.Download(r.Context(), viewer.Download{Path: p, Start: func(size int64) {
		started = true
		hd := w.Header()
		hd.Set("Content-Type", "application/octet-stream")
		hd.Set("Content-Length", strconv.FormatInt(size, 10))
		hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(p)}))
		w.WriteHeader(http.StatusOK)
	}}, w)
	if err != nil {
		if !started {
			writeErr(w, err)
			return
		}
		f.s.log.Warn("download broken off", "path", p, "err", err)
		panic(http.ErrAbortHandler) // the browser sees the download fail, not a short file
	}
	f.s.log.Info("downloaded", "path", p, "sha256", sum)
}

// archive streams a folder as a tar archive.
func (f *filesUI) archive(w http.ResponseWriter, r *http.Request) {
	if !f.sameSite(w, r) {
		return
	}
	p := r.URL.Query().Get("path")
	c, err := f.client(r.Context(), r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	rc, err := c.Archive(r.Context(), p)
	if err != nil {
		writeErr(w, err)
		return
	}
	defer rc.Close()
	name := path.Base(p)
	if name == "/" || name == "." {
		name = "files"
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name + ".tar"}))
	if _, err := io.Copy(w, rc); err != nil {
		panic(http.ErrAbortHandler)
	}
}

func (f *filesUI) start(w http.ResponseWriter, r *http.Request) {
	var req wire.UploadStart
	if !decodeJSON(w, r, &req) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	c, err := f.client(ctx, r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	st, err := c.StartUpload(ctx, req)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// chunk forwards one chunk of the browser's upload to the agent.
func (f *filesUI) chunk(w http.ResponseWriter, r *http.Request) {
	if !f.sameSite(w, r) {
		return
	}
	q := r.URL.Query()
	offset, err1 := strconv.ParseInt(q.Get("offset"), 10, 64)
	size, err2 := strconv.ParseInt(q.Get("size"), 10, 64)
	if err := errors.Join(err1, err2); err != nil || r.ContentLength < 0 || r.ContentLength > wire.UploadChunk {
		writeJSON(w, http.StatusBadRequest, wire.Error{Code: wire.CodeBadRequest, Message: "a chunk needs its offset, the file's size and a length"})
		return
	}
	b := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(http.MaxBytesReader(w, r.Body, wire.UploadChunk), b); err != nil {
		writeJSON(w, http.StatusBadRequest, wire.Error{Code: wire.CodeBadRequest, Message: "the chunk ended early"})
		return
	}
	c, err := f.client(r.Context(), r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	st, err := c.PutChunk(r.Context(), q.Get("id"), offset, size, b, r.Header.Get(wire.HeaderChunkSHA256))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (f *filesUI) finish(w http.ResponseWriter, r *http.Request) {
	var req wire.UploadFinish
	if !decodeJSON(w, r, &req) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	c, err := f.client(ctx, r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	fi, err := c.FinishUpload(ctx, req.ID, req.SHA256)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, fi)
}

func (f *filesUI) cancel(w http.ResponseWriter, r *http.Request) {
	var req wire.UploadCancel
	if !decodeJSON(w, r, &req) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	c, err := f.client(ctx, r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	if err := c.CancelUpload(ctx, req.ID); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, wire.MaxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, wire.Error{Code: wire.CodeBadRequest, Message: "the request is not valid"})
		return false
	}
	return true
}
