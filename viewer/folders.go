package viewer

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"time"

	"github.com/peerdesk/peerdesk/agent/files"
	"github.com/peerdesk/peerdesk/wire"
)

// Folders move as one tar stream each way (the agent's archive and extract
// routes): no resume, unlike single files — a cut transfer is run again,
// and what was complete on the far side stays. Both ends write through an
// os.Root opened on the target folder, so no entry can land outside it.

// FolderResult is what a folder transfer moved, and what it left out.
type FolderResult struct {
	wire.ExtractResult
	// Skipped are the local entries not sent: symbolic links and special
	// files (the agent refuses them; a link is never followed).
	Skipped []string
}

// PutFolder sends the local folder dir into the machine's folder remote:
// the folder arrives as remote/<base name of dir>/….
func (f *Files) PutFolder(ctx context.Context, dir, remote string) (FolderResult, error) {
	var res FolderResult
	root, err := os.OpenRoot(dir)
	if err != nil {
		return res, err
	}
	defer root.Close()
	pr, pw := io.Pipe()
	skipped := make(chan []string, 1)
	go func() {
		s, err := writeTar(ctx, root, filepath.Base(filepath.Clean(dir)), pw)
		skipped <- s
		pw.CloseWithError(err) //nolint:errcheck // always nil
	}()
	res.ExtractResult, err = f.Extract(ctx, remote, pr)
	pr.CloseWithError(errors.New("the upload ended")) //nolint:errcheck // always nil; ends writeTar if the agent stopped reading
	res.Skipped = <-skipped
	return res, err
}

// writeTar writes the folder under root as a tar stream whose names start
// with base; it returns the entries it left out.
func writeTar(ctx context.Context, root *os.Root, base string, w io.Writer) ([]string, error) {
	var skipped []string
	tw := tar.NewWriter(w)
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		name := path.Join(base, p)
		switch {
		case d.IsDir():
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: int64(info.Mode().Perm()), ModTime: info.ModTime()})
		case info.Mode().IsRegular():
			in, err := root.Open(filepath.FromSlash(p))
			if err != nil {
				return err
			}
			defer in.Close()
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: info.Size(), Mode: int64(info.Mode().Perm()), ModTime: info.ModTime()}); err != nil {
				return err
			}
			n, err := io.Copy(tw, io.LimitReader(in, info.Size()))
			if err == nil && n != info.Size() {
				err = fmt.Errorf("%s changed size while it was sent", p)
			}
			return err
		default:
			skipped = append(skipped, p)
			return nil
		}
	})
	if err != nil {
		return skipped, err
	}
	return skipped, tw.Close()
}

// GetFolder fetches the machine's folder remote into the local folder dir
// (made if missing): it arrives as dir/<base name of remote>/….
func (f *Files) GetFolder(ctx context.Context, remote, dir string) (FolderResult, error) {
	var res FolderResult
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return res, err
	}
	defer root.Close()
	rc, err := f.Archive(ctx, remote)
	if err != nil {
		return res, err
	}
	defer rc.Close()
	// The agent sends symbolic links as links; they are left out here (as
	// PutFolder leaves them out the other way), not followed or made.
	pr, pw := io.Pipe()
	skipped := make(chan []string, 1)
	go func() {
		s, err := withoutLinks(rc, pw)
		skipped <- s
		pw.CloseWithError(err) //nolint:errcheck // always nil
	}()
	res.ExtractResult, err = files.Extract(pr, files.NewRootSink(root, strconv.FormatInt(time.Now().UnixNano(), 36)))
	pr.CloseWithError(errors.New("the download ended")) //nolint:errcheck // always nil
	res.Skipped = <-skipped
	return res, err
}

// withoutLinks copies a tar stream without its link entries, which it
// returns by name.
func withoutLinks(r io.Reader, w io.Writer) ([]string, error) {
	var skipped []string
	tr, tw := tar.NewReader(r), tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return skipped, tw.Close()
		}
		if err != nil {
			return skipped, err
		}
		if hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeLink {
			skipped = append(skipped, hdr.Name)
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return skipped, err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return skipped, err
		}
	}
}
