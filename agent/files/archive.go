package files

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/peerdesk/peerdesk/wire"
)

// errArchive: an archive entry that is not extracted, and why.
var errArchive = errors.New("archive")

// archive streams a folder as a tar archive whose names start with the
// folder's own name. Symbolic links go in as links (never followed);
// other special files are left out.
func (h *Handler) archive(w http.ResponseWriter, r *http.Request) {
	pl, err := h.resolve(r.URL.Query().Get("path"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sub, err := pl.root.OpenRoot(pl.rel)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer sub.Close()
	base := "files"
	if _, name, err := parentAndName(pl.wire); err == nil && !wire.IsDriveName(name) {
		base = name
	}
	if err := h.audit(r, "archive", pl.wire, nil); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Disposition", `attachment; filename="`+strings.ReplaceAll(base, `"`, "")+`.tar"`)
	w.WriteHeader(http.StatusOK)
	tw := tar.NewWriter(w)
	buf := make([]byte, copyBuffer)
	var files, bytes int64
	err = fs.WalkDir(sub.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := r.Context().Err(); err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return nil // gone meanwhile
		}
		name := base
		if p != "." {
			name = base + "/" + p
		}
		var link string
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = sub.Readlink(filepath.FromSlash(p)); err != nil {
				return nil
			}
		} else if !fi.Mode().IsRegular() && !fi.IsDir() {
			return nil // devices, sockets, pipes
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return nil
		}
		hdr.Name, hdr.Uname, hdr.Gname = name, "", ""
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Format = tar.FormatPAX
		if !fi.Mode().IsRegular() {
			return tw.WriteHeader(hdr)
		}
		f, err := sub.Open(filepath.FromSlash(p))
		if err != nil {
			return nil // unreadable: left out
		}
		defer f.Close()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		n, err := io.CopyBuffer(tw, ctxReader{r.Context(), io.LimitReader(f, hdr.Size)}, buf)
		if err != nil {
			return err
		}
		if n < hdr.Size { // it shrank meanwhile: pad, the archive stays whole
			if _, err := io.CopyN(tw, zeros{}, hdr.Size-n); err != nil {
				return err
			}
		}
		files++
		bytes += hdr.Size
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		// The stream ends without the archive's end: the client sees a
		// truncated archive.
		h.cfg.Logger.Info("archive cut", "path", pl.wire, "err", err)
		return
	}
	h.cfg.Logger.Info("archive sent", "path", pl.wire, "files", files, "bytes", bytes)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// extract writes a tar stream into a folder, through an os.Root opened on
// that folder: no entry can land outside it.
func (h *Handler) extract(w http.ResponseWriter, r *http.Request) {
	pl, err := h.resolve(r.URL.Query().Get("path"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sub, err := pl.root.OpenRoot(pl.rel)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer sub.Close()
	res, err := Extract(ctxReader{r.Context(), r.Body}, rootSink{root: sub, id: strconv.FormatInt(h.cfg.Now().UnixNano(), 36)})
	// What was written is audited whether or not the archive ended well.
	if aerr := h.audit(r, "extract", pl.wire, map[string]string{"files": strconv.Itoa(res.Files), "dirs": strconv.Itoa(res.Dirs),
		"size": strconv.FormatInt(res.Bytes, 10), "complete": strconv.FormatBool(err == nil)}); aerr != nil && err == nil {
		err = aerr
	}
	if err != nil {
		if isDiskFull(err) {
			err = refuse(errDiskFull, "the disk is full")
		}
		h.fail(w, r, err)
		return
	}
	writeJSON(w, res)
}

// Sink is where Extract writes, at paths that are local (filepath.IsLocal)
// and slash-separated.
type Sink interface {
	MkdirAll(rel string) error
	// WriteFile writes the file at rel from r, complete or not at all.
	WriteFile(rel string, r io.Reader, size int64, mode fs.FileMode) error
}

// Extract reads a tar stream into s. It refuses (wrapping errArchive) an
// entry whose name is absolute, climbs with "..", holds a name that
// CheckFileName refuses, or is a link or special file: it stops at the
// first one; what came before stays. Limits: wire.MaxArchiveCount
// entries, wire.MaxArchiveEntry bytes each.
func Extract(r io.Reader, s Sink) (wire.ExtractResult, error) {
	var res wire.ExtractResult
	tr := tar.NewReader(r)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return res, fmt.Errorf("%w: not a tar archive, or a damaged one: %v", errArchive, err)
		}
		if n >= wire.MaxArchiveCount {
			return res, fmt.Errorf("%w: more than %d entries", errArchive, wire.MaxArchiveCount)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		rel, err := entryName(hdr.Name)
		if err != nil {
			return res, err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if rel == "" {
				continue
			}
			if err := s.MkdirAll(rel); err != nil {
				return res, err
			}
			res.Dirs++
		case tar.TypeReg, tar.TypeRegA:
			if rel == "" {
				return res, fmt.Errorf("%w: a file entry without a name", errArchive)
			}
			if hdr.Size < 0 || hdr.Size > wire.MaxArchiveEntry {
				return res, fmt.Errorf("%w: %q is too large", errArchive, hdr.Name)
			}
			if dir := path.Dir(rel); dir != "." {
				if err := s.MkdirAll(dir); err != nil {
					return res, err
				}
			}
			if err := s.WriteFile(rel, tr, hdr.Size, fs.FileMode(hdr.Mode)&0o777); err != nil {
				return res, err
			}
			res.Files++
			res.Bytes += hdr.Size
		default:
			return res, fmt.Errorf("%w: %q is a link or special file; those are not extracted", errArchive, hdr.Name)
		}
	}
}

// entryName cleans an archive entry's name to a local, slash-separated
// path ("" for the folder itself) or refuses it.
func entryName(name string) (string, error) {
	bad := func(why string) error { return fmt.Errorf("%w: the entry %q %s", errArchive, name, why) }
	if name == "" || len(name) > wire.MaxFilePath {
		return "", bad("has no name or too long a one")
	}
	if strings.HasPrefix(name, "/") || strings.Contains(name, `\`) || (len(name) >= 2 && name[1] == ':') {
		return "", bad("is absolute")
	}
	n := strings.TrimSuffix(name, "/")
	var keep []string
	for e := range strings.SplitSeq(n, "/") {
		switch e {
		case "", ".":
			continue
		case "..":
			return "", bad("climbs with \"..\"")
		}
		if err := wire.CheckFileName(e); err != nil {
			return "", fmt.Errorf("%w: %w", errArchive, err)
		}
		keep = append(keep, e)
	}
	if len(keep) > wire.MaxFileDepth {
		return "", bad("is too deep")
	}
	rel := strings.Join(keep, "/")
	if rel != "" && !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", bad("is not local")
	}
	return rel, nil
}

// NewRootSink extracts into root (the viewer's `files get` of a folder
// uses it for the local side): each file is written under a hidden partial
// name, synced and renamed; id tells partials of different extractions
// apart.
func NewRootSink(root *os.Root, id string) Sink { return rootSink{root: root, id: id} }

// rootSink extracts into an os.Root; each file is written under a hidden
// partial name, synced and renamed.
type rootSink struct {
	root *os.Root
	id   string
}

func (s rootSink) MkdirAll(rel string) error {
	return s.root.MkdirAll(filepath.FromSlash(rel), 0o755)
}

func (s rootSink) WriteFile(rel string, r io.Reader, size int64, mode fs.FileMode) error {
	dir, name := path.Split(rel)
	part := filepath.FromSlash(dir + partName(name, s.id+"0000000000000000"))
	f, err := s.root.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	n, err := io.CopyBuffer(f, io.LimitReader(r, size), make([]byte, copyBuffer))
	if err == nil && n != size {
		err = fmt.Errorf("%w: %q ends early", errArchive, rel)
	}
	if err == nil {
		if mode == 0 {
			mode = 0o644
		}
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err == nil {
		err = s.root.Rename(part, filepath.FromSlash(rel))
	}
	if err != nil {
		s.root.Remove(part) //nolint:errcheck // the error says what failed
		return err
	}
	return nil
}
