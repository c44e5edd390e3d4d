package files

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/wire"
	"tailscale.com/atomicfile"
)

// An upload a technician walks away from (the browser closed, the laptop
// gone home) would keep its hidden partial file on the user's disk for
// ever, possibly gigabytes, and hold one of maxUploads places until the
// agent restarts; after a restart nothing would even know where it is.
// So every upload in progress is listed in a small file in the agent's
// state directory (Config.PartialsFile), and one that has taken no chunk
// for Config.PartialTTL (DefaultPartialTTL) is forgotten and its partial
// file removed, audited as files.upload.expired: on the next upload start,
// when the handler opens, and every sweepEvery. A partial listed by an
// earlier run is kept as long as its file changed within the TTL, and
// resuming it (the same technician, file and place) takes it up again.

// DefaultPartialTTL is how long an upload may sit without a chunk before
// its partial file is removed.
const DefaultPartialTTL = 24 * time.Hour

// sweepEvery is how often the handler looks for expired uploads besides
// each upload start.
const sweepEvery = time.Hour

// maxListed bounds the partials file: what an earlier run left is kept up
// to this many entries (the current run holds at most maxUploads).
const maxListed = 4 * maxUploads

// listed is one partial file in the partials file.
type listed struct {
	ID         string `json:"id"`
	Technician string `json:"technician"`
	Path       string `json:"path"` // the final wire path; the partial is beside it
}

// partWire is the wire path of the partial file of l.
func (l listed) partWire() (string, error) {
	dir, name, err := parentAndName(l.Path)
	if err != nil {
		return "", err
	}
	if len(l.ID) < 16 {
		return "", errors.New("a listed upload's id is too short")
	}
	return path.Join(dir, partName(name, l.ID)), nil
}

// loadPartials reads what an earlier run listed; a missing or unreadable
// file lists nothing (it is housekeeping: the uploads themselves are on
// disk).
func (h *Handler) loadPartials() {
	if h.cfg.PartialsFile == "" {
		return
	}
	b, err := os.ReadFile(h.cfg.PartialsFile)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			h.cfg.Logger.Warn("the list of partial uploads cannot be read", "err", err)
		}
		return
	}
	var ls []listed
	if err := json.Unmarshal(b, &ls); err != nil {
		h.cfg.Logger.Warn("the list of partial uploads is not valid; starting a new one", "err", err)
		return
	}
	us := h.uploads
	us.mu.Lock()
	defer us.mu.Unlock()
	for _, l := range ls {
		if _, err := wire.CleanFilePath(l.Path); err != nil || len(us.dormant) >= maxListed {
			continue
		}
		if _, err := l.partWire(); err != nil {
			continue
		}
		us.dormant[l.ID] = l
	}
}

// savePartials writes the list: the uploads in progress and what an
// earlier run left. Call with us.mu held.
func (h *Handler) savePartials() {
	if h.cfg.PartialsFile == "" {
		return
	}
	us := h.uploads
	ls := make([]listed, 0, len(us.m)+len(us.dormant))
	for _, u := range us.m {
		ls = append(ls, listed{ID: u.id, Technician: u.technician, Path: u.wire})
	}
	for _, l := range us.dormant {
		ls = append(ls, l)
	}
	slices.SortFunc(ls, func(a, b listed) int { return strings.Compare(a.ID, b.ID) })
	b, err := json.Marshal(ls)
	if err == nil {
		err = atomicfile.WriteFile(h.cfg.PartialsFile, b, 0o600)
	}
	if err != nil {
		h.cfg.Logger.Warn("the list of partial uploads cannot be written", "err", err)
	}
}

// sweep forgets uploads that took no chunk for the TTL and removes their
// partial files, and does the same for what an earlier run left.
func (h *Handler) sweep() {
	ttl := h.cfg.PartialTTL
	now := h.cfg.Now()
	us := h.uploads
	us.mu.Lock()
	active := make([]*upload, 0, len(us.m))
	for _, u := range us.m {
		active = append(active, u)
	}
	dormant := make([]listed, 0, len(us.dormant))
	for _, l := range us.dormant {
		dormant = append(dormant, l)
	}
	us.mu.Unlock()

	for _, u := range active {
		if !u.mu.TryLock() { // a chunk is being written: not idle
			continue
		}
		if !u.gone && now.Sub(u.touched) > ttl {
			at := u.offset
			err := us.drop(u, true)
			if err != nil && errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
			h.expired(u.technician, u.wire, at, err)
		}
		u.mu.Unlock()
	}

	changed := false
	for _, l := range dormant {
		pw, _ := l.partWire() //nolint:errcheck // checked when loaded
		pl, err := h.resolve(pw)
		var fi fs.FileInfo
		if err == nil {
			fi, err = pl.root.Lstat(pl.rel)
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// gone (finished or removed by someone): forget it
		case err != nil:
			// the top cannot reach it (a drive gone): keep it listed
			continue
		case fi.Mode().IsRegular() && now.Sub(fi.ModTime()) <= ttl:
			continue // still fresh: its technician may resume it
		case fi.Mode().IsRegular():
			err := pl.root.Remove(pl.rel)
			if errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
			h.expired(l.Technician, l.Path, fi.Size(), err)
			if err != nil {
				continue
			}
		}
		us.mu.Lock()
		if us.dormant[l.ID] == l {
			delete(us.dormant, l.ID)
			changed = true
		}
		us.mu.Unlock()
	}
	if changed {
		us.mu.Lock()
		h.savePartials()
		us.mu.Unlock()
	}
}

// expired records an upload removed for want of chunks.
func (h *Handler) expired(technician, p string, at int64, err error) {
	fields := map[string]string{"path": p, "at": strconv.FormatInt(at, 10), "after": h.cfg.PartialTTL.String()}
	outcome := "ok"
	if err != nil {
		outcome = "error"
		fields["error"] = err.Error()
	}
	if aerr := h.cfg.Audit.Record(wire.AuditEvent{Time: h.cfg.Now(), Actor: technician, Action: "files.upload.expired",
		Target: h.cfg.Device, Outcome: outcome, Fields: fields}); aerr != nil {
		h.cfg.Logger.Error("audit record failed", "err", aerr)
	}
	h.cfg.Logger.Info("an abandoned upload was removed", "path", p, "at", at, "err", err)
}

// janitor sweeps every sweepEvery until stop is closed.
func (h *Handler) janitor(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			h.sweep()
		}
	}
}
