package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/peerdesk/peerdesk/cli"
	"github.com/peerdesk/peerdesk/viewer"
)

// filesCommands is `peerdesk-viewer files`: ls, get, put. Transfers
// resume by themselves after the link drops and end with the whole file's
// SHA-256 checked.
func filesCommands() []cli.Command {
	return []cli.Command{
		{Name: "ls", Usage: "list a folder of a machine: ls <device-id> [<path>] (\"/\" is the top; on Windows, the drives)", Run: filesLs},
		{Name: "get", Usage: "download a file: get <device-id> <remote-path> [<local-path>]; a remote path ending in / is a folder, fetched as one archive into the local folder (no resume)", Run: filesGet},
		{Name: "put", Usage: "upload a file: put <device-id> <local-path> <remote-path> (a path ending in / keeps the local name); a local folder goes as one archive into the remote folder (no resume; links left out)", Run: filesPut},
	}
}

func filesLs(ctx context.Context, args []string) error {
	v, rest, err := open(args, "files ls", nil, "<device-id>", "[<path>]")
	if err != nil {
		return err
	}
	defer v.Close()
	if len(rest) < 1 || len(rest) > 2 {
		return fmt.Errorf("usage: peerdesk-viewer files ls [flags] <device-id> [<path>]")
	}
	p := "/"
	if len(rest) == 2 {
		p = rest[1]
	}
	f, err := v.Files(ctx, rest[0])
	if err != nil {
		return err
	}
	l, err := f.List(ctx, p)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	for _, e := range l.Entries {
		name := e.Name
		switch {
		case e.IsLink && e.Target != "":
			name += " -> " + e.Target
		case e.IsDir:
			name += "/"
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", e.Mode, e.Size, e.ModTime.Local().Format("2006-01-02 15:04"), name)
	}
	if l.Truncated {
		fmt.Fprintln(w, "… (more entries than a listing holds)")
	}
	return w.Flush()
}

func filesGet(ctx context.Context, args []string) error {
	var force bool
	var cpuProfile string
	v, rest, err := open(args, "files get", func(fs *flag.FlagSet) {
		fs.BoolVar(&force, "force", false, "replace the local file if it exists")
		fs.StringVar(&cpuProfile, "cpuprofile", "", "write a Go CPU profile of the transfer to this file (for measuring)")
	}, "<device-id>", "<remote-path>", "[<local-path>]")
	if err != nil {
		return err
	}
	defer v.Close()
	stop, err := startCPUProfile(cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	if len(rest) < 2 || len(rest) > 3 {
		return fmt.Errorf("usage: peerdesk-viewer files get [flags] <device-id> <remote-path> [<local-path>]")
	}
	remote := rest[1]
	if strings.HasSuffix(remote, "/") && remote != "/" {
		local := "."
		if len(rest) == 3 {
			local = rest[2]
		}
		return getFolder(ctx, v, rest[0], strings.TrimSuffix(remote, "/"), local)
	}
	local := path.Base(remote)
	if len(rest) == 3 {
		local = rest[2]
	}
	if st, err := os.Stat(local); err == nil && st.IsDir() {
		local = filepath.Join(local, path.Base(remote))
	}
	if _, err := os.Stat(local); err == nil && !force {
		return fmt.Errorf("%s exists; -force replaces it", local)
	}
	f, err := v.Files(ctx, rest[0])
	if err != nil {
		return err
	}
	// The file grows under a partial name beside its final one; a get cut
	// short (Ctrl-C, a crash) continues from it the next time.
	part := local + ".peerdesk-part"
	out, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	h := sha256.New()
	held, err := io.Copy(h, out)
	if err != nil {
		return err
	}
	bar := newBar(path.Base(remote))
	began := time.Now() // the node is up and the grant in hand
	size, sum, err := f.Download(ctx, viewer.Download{Path: remote, Offset: held, Hash: h, Progress: bar.update}, out)
	bar.end(err == nil)
	if errors.Is(err, viewer.ErrHashMismatch) {
		out.Close()
		os.Remove(part) //nolint:errcheck // the error says what happened
		return fmt.Errorf("%w; the partial file was removed, get it again", err)
	}
	if err != nil {
		return fmt.Errorf("%w (what arrived is kept in %s; the same command continues)", err, part)
	}
	if err := out.Sync(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Rename(part, local); err != nil {
		return err
	}
	fmt.Printf("%s: %d bytes, sha256 %s, in %.2f s%s\n", local, size, sum, time.Since(began).Seconds(), bar.rate())
	return nil
}

func filesPut(ctx context.Context, args []string) error {
	var overwrite bool
	var cpuProfile string
	v, rest, err := open(args, "files put", func(fs *flag.FlagSet) {
		fs.BoolVar(&overwrite, "overwrite", false, "replace the remote file if it exists")
		fs.StringVar(&cpuProfile, "cpuprofile", "", "write a Go CPU profile of the transfer to this file (for measuring)")
	}, "<device-id>", "<local-path>", "<remote-path>")
	if err != nil {
		return err
	}
	defer v.Close()
	stop, err := startCPUProfile(cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	if len(rest) != 3 {
		return fmt.Errorf("usage: peerdesk-viewer files put [flags] <device-id> <local-path> <remote-path>")
	}
	in, err := os.Open(rest[1])
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return putFolder(ctx, v, rest[0], rest[1], rest[2])
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a file", rest[1])
	}
	remote := rest[2]
	if strings.HasSuffix(remote, "/") {
		remote += filepath.Base(rest[1])
	}
	// The whole file's SHA-256 (the upload's name at the agent) is
	// computed while the node joins the overlay and the grant comes,
	// instead of after: a pass over the file that cost seconds.
	type hashed struct {
		sum string
		err error
	}
	hc := make(chan hashed, 1)
	go func() {
		h := sha256.New()
		_, err := io.Copy(h, io.NewSectionReader(in, 0, st.Size()))
		hc <- hashed{hex.EncodeToString(h.Sum(nil)), err}
	}()
	f, err := v.Files(ctx, rest[0])
	hr := <-hc
	if err != nil {
		return err
	}
	if hr.err != nil {
		return hr.err
	}
	bar := newBar(filepath.Base(rest[1]))
	began := time.Now() // the node is up and the grant in hand
	fi, err := f.Upload(ctx, viewer.Upload{Path: remote, Size: st.Size(), SHA256: hr.sum, Overwrite: overwrite, Progress: bar.update}, in)
	bar.end(err == nil)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %d bytes in %.2f s%s\n", remote, fi.Size, time.Since(began).Seconds(), bar.rate())
	return nil
}

// bar is the transfer's progress on the terminal: one line redrawn at
// most ten times a second — name, percent, bytes, speed. Hand-written:
// it needs no terminal width or cursor control beyond "\r", and a
// dependency for a dozen lines is not worth its updates. Not a terminal:
// nothing is drawn.
type bar struct {
	name    string
	on      bool
	start   time.Time
	last    time.Time
	first   int64
	ended   time.Time
	started bool
	done    int64
	total   int64
}

func newBar(name string) *bar {
	return &bar{name: name, on: term.IsTerminal(int(os.Stderr.Fd())), start: time.Now()}
}

func (b *bar) update(done, total int64) {
	if !b.started {
		b.started, b.first, b.start = true, done, time.Now()
	}
	b.done, b.total = done, total
	if !b.on || time.Since(b.last) < 100*time.Millisecond && done < total {
		return
	}
	b.last = time.Now()
	b.draw()
}

func (b *bar) draw() {
	pct := 100.0
	if b.total > 0 {
		pct = float64(b.done) * 100 / float64(b.total)
	}
	speed := 0.0
	if s := time.Since(b.start).Seconds(); s > 0 {
		speed = float64(b.done-b.first) / s
	}
	const width = 24
	fill := int(pct / 100 * width)
	fmt.Fprintf(os.Stderr, "\r%-20.20s [%s%s] %5.1f%%  %s / %s  %s/s  ", b.name, strings.Repeat("=", fill), strings.Repeat(" ", width-fill),
		pct, size(b.done), size(b.total), size(int64(speed)))
}

// rate is ", N MiB/s after the first bytes": the speed once bytes flow,
// without the wait for the overlay's path to the agent (the first call
// over a node just up waited seconds for it); "" if it cannot tell.
func (b *bar) rate() string {
	s := b.ended.Sub(b.start).Seconds()
	if !b.started || b.done <= b.first || s <= 0 {
		return ""
	}
	return fmt.Sprintf(", %.1f MiB/s after the first bytes", float64(b.done-b.first)/s/(1<<20))
}

func (b *bar) end(ok bool) {
	b.ended = time.Now()
	if !b.on {
		return
	}
	if ok {
		b.draw()
	}
	fmt.Fprintln(os.Stderr)
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// startCPUProfile writes a CPU profile to path until stop (nothing if path
// is empty): where a transfer's time goes (docs/BENCHMARKS.md).
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// putFolder sends a local folder into a remote one as one archive.
func putFolder(ctx context.Context, v *viewer.Viewer, device, dir, remote string) error {
	f, err := v.Files(ctx, device)
	if err != nil {
		return err
	}
	began := time.Now()
	res, err := f.PutFolder(ctx, dir, strings.TrimSuffix(remote, "/"))
	report(res, began)
	if err != nil {
		return fmt.Errorf("%w (what arrived complete stays on the machine; run the command again)", err)
	}
	return nil
}

// getFolder fetches a remote folder into a local one as one archive.
func getFolder(ctx context.Context, v *viewer.Viewer, device, remote, dir string) error {
	f, err := v.Files(ctx, device)
	if err != nil {
		return err
	}
	began := time.Now()
	res, err := f.GetFolder(ctx, remote, dir)
	report(res, began)
	if err != nil {
		return fmt.Errorf("%w (what arrived complete stays here; run the command again)", err)
	}
	return nil
}

func report(res viewer.FolderResult, began time.Time) {
	fmt.Printf("%d files, %d folders, %d bytes in %.2f s\n", res.Files, res.Dirs, res.Bytes, time.Since(began).Seconds())
	for _, s := range res.Skipped {
		fmt.Printf("left out (a link or special file): %s\n", s)
	}
}
