package files

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/wire"
)

// list answers a folder's entries, sorted folders first, then by name.
func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	pl, err := h.resolveTopOK(r.URL.Query().Get("path"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := wire.FileList{Path: pl.wire, Entries: []wire.FileInfo{}}
	if pl.root == nil { // the drives
		out.Entries, _ = h.top.drives()
		writeJSON(w, out)
		return
	}
	d, err := pl.root.Open(pl.rel)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer d.Close()
	st, err := d.Stat()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !st.IsDir() {
		h.fail(w, r, refuse(errBad, "%s is not a folder", pl.wire))
		return
	}
	ents, err := d.ReadDir(wire.MaxListEntries + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		h.fail(w, r, err)
		return
	}
	if len(ents) > wire.MaxListEntries {
		ents, out.Truncated = ents[:wire.MaxListEntries], true
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue // gone meanwhile
		}
		info := infoOf(e.Name(), fi)
		if info.IsLink {
			if t, err := pl.root.Readlink(joinRel(pl.rel, e.Name())); err == nil {
				info.Target = t
			}
			if st, err := pl.root.Stat(joinRel(pl.rel, e.Name())); err == nil && st.IsDir() {
				info.IsDir = true // a link to a folder opens as one
			}
		}
		out.Entries = append(out.Entries, info)
	}
	slices.SortFunc(out.Entries, func(a, b wire.FileInfo) int {
		if a.IsDir != b.IsDir {
			if a.IsDir {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	writeJSON(w, out)
}

// resolveTopOK resolves p, answering a nil root for Windows' list of
// drives.
func (h *Handler) resolveTopOK(p string) (place, error) {
	c, err := wire.CleanFilePath(p)
	if err != nil {
		return place{}, err
	}
	if c == "/" {
		if _, ok := h.top.drives(); ok {
			return place{wire: c}, nil
		}
	}
	return h.resolve(c)
}

// version names a file's content as far as its metadata tells: a resumed
// download must meet the same one.
func version(fi fs.FileInfo) string {
	return strconv.FormatInt(fi.Size(), 10) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 10)
}

// download streams a file from an offset, and its whole SHA-256 as a
// trailer.
func (h *Handler) download(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pl, err := h.resolve(q.Get("path"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var offset int64
	if s := q.Get("offset"); s != "" {
		if offset, err = strconv.ParseInt(s, 10, 64); err != nil || offset < 0 {
			h.fail(w, r, refuse(errBad, "the offset %q is not a number of bytes", s))
			return
		}
	}
	f, err := pl.root.Open(pl.rel)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !st.Mode().IsRegular() {
		h.fail(w, r, refuse(errBad, "%s is not a file (download a folder as an archive)", pl.wire))
		return
	}
	size, ver := st.Size(), version(st)
	if v := q.Get("version"); v != "" && v != ver {
		h.fail(w, r, refuse(errConflict, "%s changed since the download began; start it again", pl.wire))
		return
	}
	if offset > size {
		h.fail(w, r, refuse(errBad, "the offset %d is past the end (%d bytes)", offset, size))
		return
	}
	if err := h.audit(r, "download", pl.wire, map[string]string{"size": strconv.FormatInt(size, 10), "offset": strconv.FormatInt(offset, 10)}); err != nil {
		h.fail(w, r, err)
		return
	}
	sum := sha256.New()
	if offset > 0 {
		// The trailer is the whole file's: hash what the client has.
		if _, err := io.CopyN(sum, f, offset); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set(wire.HeaderFileSize, strconv.FormatInt(size, 10))
	hd.Set(wire.HeaderFileVersion, ver)
	hd.Set("Trailer", wire.HeaderFileSHA256)
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, copyBuffer)
	n, err := io.CopyBuffer(io.MultiWriter(w, sum), ctxReader{r.Context(), io.LimitReader(f, size-offset)}, buf)
	if err != nil || n != size-offset {
		// The client sees the stream end without the trailer.
		h.cfg.Logger.Info("download cut", "path", pl.wire, "sent", n, "err", err)
		return
	}
	hd.Set(wire.HeaderFileSHA256, hex.EncodeToString(sum.Sum(nil)))
}

// copyBuffer is the buffer of one stream's copy.
const copyBuffer = 256 << 10

func (h *Handler) mkdir(w http.ResponseWriter, r *http.Request) {
	var req wire.FileMkdir
	if err := gate.DecodeRequest(w, r, &req); err != nil {
		h.fail(w, r, refuse(errBad, "%s", err))
		return
	}
	pl, err := h.resolve(req.Path)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if pl.rel == "." {
		h.fail(w, r, refuse(errConflict, "%s already exists", pl.wire))
		return
	}
	if err := pl.root.Mkdir(pl.rel, 0o755); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.audit(r, "mkdir", pl.wire, nil); err != nil {
		h.fail(w, r, err)
		return
	}
	h.answerInfo(w, r, pl)
}

func (h *Handler) rename(w http.ResponseWriter, r *http.Request) {
	var req wire.FileRename
	if err := gate.DecodeRequest(w, r, &req); err != nil {
		h.fail(w, r, refuse(errBad, "%s", err))
		return
	}
	from, err := h.resolve(req.From)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	to, err := h.resolve(req.To)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	switch {
	case from.rel == "." || to.rel == ".":
		h.fail(w, r, refuse(errBad, "a drive or the top cannot be renamed"))
		return
	case from.root != to.root:
		h.fail(w, r, refuse(errBad, "a rename stays on one drive; copy instead"))
		return
	}
	fi, err := from.root.Lstat(from.rel)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := to.root.Lstat(to.rel); err == nil {
		h.fail(w, r, refuse(errConflict, "%s already exists", to.wire))
		return
	}
	if err := from.root.Rename(from.rel, to.rel); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.audit(r, "rename", from.wire, map[string]string{"to": to.wire, "size": strconv.FormatInt(fi.Size(), 10)}); err != nil {
		h.fail(w, r, err)
		return
	}
	h.answerInfo(w, r, to)
}

func (h *Handler) remove(w http.ResponseWriter, r *http.Request) {
	var req wire.FileDelete
	if err := gate.DecodeRequest(w, r, &req); err != nil {
		h.fail(w, r, refuse(errBad, "%s", err))
		return
	}
	pl, err := h.resolve(req.Path)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if pl.rel == "." {
		h.fail(w, r, refuse(errBad, "a drive or the top cannot be deleted"))
		return
	}
	fi, err := pl.root.Lstat(pl.rel)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if fi.IsDir() && req.Recursive {
		err = pl.root.RemoveAll(pl.rel)
	} else {
		err = pl.root.Remove(pl.rel)
		if err != nil && fi.IsDir() {
			if ents, rerr := fs.ReadDir(pl.root.FS(), filepath.ToSlash(pl.rel)); rerr == nil && len(ents) > 0 {
				err = refuse(errConflict, "%s is not empty: delete it with everything in it (recursive)", pl.wire)
			}
		}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.audit(r, "delete", pl.wire, map[string]string{"size": strconv.FormatInt(fi.Size(), 10),
		"dir": strconv.FormatBool(fi.IsDir()), "recursive": strconv.FormatBool(req.Recursive)}); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, struct{}{})
}

// answerInfo answers the entry at pl.
func (h *Handler) answerInfo(w http.ResponseWriter, r *http.Request, pl place) {
	fi, err := pl.root.Lstat(pl.rel)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	_, name, _ := parentAndName(pl.wire)
	writeJSON(w, infoOf(name, fi))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client went away; nothing to tell it
}
