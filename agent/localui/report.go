package localui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/agent/shot"
	"github.com/peerdesk/peerdesk/templates/agentui"
	"github.com/peerdesk/peerdesk/wire"
)

// Reporter takes and files screenshot tickets (package shot's Service).
type Reporter interface {
	Take(ctx context.Context) (shot.Draft, error)
	Draft() (shot.Draft, bool)
	Discard(id string)
	File(id, description, priority string) (shot.Report, error)
	Reports() ([]shot.Report, <-chan struct{})
}

// reportRoutes serves "Report a problem": the button takes a report, the
// form files it, the screenshot is shown while it is described.
func (u *UI) reportRoutes(mux *http.ServeMux) {
	if u.cfg.Report == nil {
		return
	}
	mux.Handle("POST "+u.base+"report", u.authed(u.reportTake))
	mux.Handle("POST "+u.base+"report/{id}", u.authed(u.reportFile))
	mux.Handle("POST "+u.base+"report/{id}/cancel", u.authed(u.reportCancel))
	mux.Handle("GET "+u.base+"report/{id}/"+shot.ScreenshotName, u.authed(u.reportShot))
	mux.Handle("GET "+u.base+"report.js", u.authed(reportScript))
	u.wg.Go(u.watchReports)
}

// Report takes a report now (the hotkey) and brings the page up to
// describe it, unless a page is open already (it updates by itself).
func (u *UI) Report(ctx context.Context) error {
	if u.cfg.Report == nil {
		return errors.New("localui.Report: this page files no reports")
	}
	if _, err := u.cfg.Report.Take(ctx); err != nil {
		return fmt.Errorf("localui.Report: %w", err)
	}
	u.mu.Lock()
	open := u.listeners > 0 || (!u.lastListen.IsZero() && u.cfg.Now().Sub(u.lastListen) < showGrace)
	closed := u.closed
	u.mu.Unlock()
	if !open && !closed && u.cfg.Show != nil {
		return u.cfg.Show(u.URL())
	}
	return nil
}

// watchReports refreshes open pages when a report changes (filed, sent).
func (u *UI) watchReports() {
	for {
		_, changed := u.cfg.Report.Reports()
		select {
		case <-u.stop:
			return
		case <-changed:
		}
		u.mu.Lock()
		u.touch()
		u.mu.Unlock()
	}
}

// reportView is the report part of the page; u.mu is not held.
func (u *UI) reportView() agentui.ReportView {
	if u.cfg.Report == nil {
		return agentui.ReportView{}
	}
	v := agentui.ReportView{Enabled: true, Priorities: wire.Priorities, Contacts: u.cfg.Contacts, Hotkey: u.cfg.Hotkey}
	if d, ok := u.cfg.Report.Draft(); ok {
		rd := agentui.ReportDraft{ID: d.ID, User: d.User, Missing: d.Missing}
		if d.PNG != nil {
			rd.Shot = u.base + "report/" + d.ID + "/" + shot.ScreenshotName
		}
		if s := d.System; s.Hostname != "" {
			rd.System = append(rd.System, "Computer: "+s.Hostname+".")
			if s.Platform != "" {
				rd.System = append(rd.System, "System: "+strings.TrimSpace(s.Platform+" "+s.OSVersion)+".")
			}
		}
		v.Draft = rd
	}
	reps, _ := u.cfg.Report.Reports()
	for _, r := range reps {
		v.Filed = append(v.Filed, agentui.ReportLine{Title: r.Title, Priority: r.Priority, Ticket: r.Ticket})
	}
	return v
}

func (u *UI) reportTake(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if _, err := u.cfg.Report.Take(ctx); err != nil {
		u.cfg.Logger.Warn("taking a report", "err", err)
		u.SetMessage("The report could not be started; try again.")
	}
	u.back(w, r)
}

func (u *UI) reportFile(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, wire.MaxTicketText+4<<10)
	if err := r.ParseForm(); err != nil {
		u.SetMessage("The description is too long.")
		u.back(w, r)
		return
	}
	_, err := u.cfg.Report.File(r.PathValue("id"), r.PostFormValue("description"), r.PostFormValue("priority"))
	switch {
	case err == nil:
		u.SetMessage("")
	case errors.Is(err, shot.ErrNoDraft):
		u.SetMessage("That report was already sent or cancelled.")
	case errors.Is(err, shot.ErrTooLong), errors.Is(err, shot.ErrPriority):
		u.SetMessage("The report could not be filed: " + err.Error())
	default:
		// The outbox is full or the disk failed: nothing was queued.
		u.cfg.Logger.Error("filing a report", "err", err)
		msg := "The report could not be saved on this computer."
		if u.cfg.Contacts != "" {
			msg += " Please contact the help desk: " + u.cfg.Contacts
		}
		u.SetMessage(msg)
	}
	u.back(w, r)
}

func (u *UI) reportCancel(w http.ResponseWriter, r *http.Request) {
	u.cfg.Report.Discard(r.PathValue("id"))
	u.back(w, r)
}

func (u *UI) reportShot(w http.ResponseWriter, r *http.Request) {
	d, ok := u.cfg.Report.Draft()
	if !ok || d.ID != r.PathValue("id") || d.PNG == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(d.PNG) //nolint:errcheck // client gone
}

// reportJS keeps what the user typed across the page's reloads (it
// reloads whenever anything on it changes).
const reportJS = `'use strict';
(function () {
  const d = document.getElementById('description'), p = document.getElementById('priority'), f = document.getElementById('reportform');
  if (!d || !f) { sessionStorage.removeItem('peerdesk-report'); return; }
  const key = 'peerdesk-report';
  try {
    const s = JSON.parse(sessionStorage.getItem(key) || 'null');
    if (s && s.id === f.action) { d.value = s.d; p.value = s.p; }
  } catch (e) {}
  window.addEventListener('beforeunload', () => {
    sessionStorage.setItem(key, JSON.stringify({ id: f.action, d: d.value, p: p.value }));
  });
  f.addEventListener('submit', () => { sessionStorage.removeItem(key); f.action += ''; });
})();
`

func reportScript(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	io.WriteString(w, reportJS) //nolint:errcheck // client gone
}
