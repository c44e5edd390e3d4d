package web

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/supportpack"
	templates "github.com/peerdesk/peerdesk/templates/dashboard"
	"github.com/peerdesk/peerdesk/wire"
)

// Portal checks the codes end users type into the portal (*desk.Desk
// implements it).
type Portal interface {
	// CheckCode validates a code typed at ip under the per-address and
	// global limits, and audits a failed guess; it does not use the code.
	// Its errors are *desk.Error wrapping package support's.
	CheckCode(ip, visitor, code string) (support.Code, error)
}

const (
	portalCookie  = "peerdesk_portal" // pre-session value the portal form's CSRF token is bound to
	purposePortal = "portal"
	readyPath     = "/support/ready"
	// readyTTL is how long the ready page shows a checked code to the
	// browser that typed it (reloads included); then the form asks again.
	readyTTL = 30 * time.Minute
)

// Messages the portal shows besides the desk's own user-safe ones.
const (
	msgPortalExpired = "The page expired; please enter the code again."
	msgCodeDigits    = "A support code is six digits, like 123 456."
	msgCodeFailed    = "The code could not be checked; please try again in a moment."
	msgNoBinary      = "The one-time agent is not available for this system. Please tell your technician."
)

// handlePortalForm asks for the code; ?code= prefills it (technicians send
// such links).
func (s *server) handlePortalForm(w http.ResponseWriter, r *http.Request) {
	bound := s.formBinding(w, r, portalCookie, "/support", false)
	code, _ := normalizeCode(r.URL.Query().Get("code"))
	s.render(w, r, http.StatusOK, templates.PortalPage(templates.PortalView{CSRF: s.csrfToken(purposePortal, bound), Code: code}))
}

func (s *server) handlePortalCode(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		status := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			status = http.StatusRequestEntityTooLarge
		}
		s.portalMessage(w, r, status, "Bad request", "The form could not be read.")
		return
	}
	bound := cookie(r, portalCookie)
	code, ok := normalizeCode(r.PostForm.Get("code"))
	retry := func(status int, msg string) {
		s.render(w, r, status, templates.PortalPage(templates.PortalView{CSRF: s.csrfToken(purposePortal, bound), Code: code, Error: msg}))
	}
	if !s.csrfOK(r, purposePortal, bound) {
		bound = s.formBinding(w, r, portalCookie, "/support", true)
		retry(http.StatusForbidden, msgPortalExpired)
		return
	}
	if !ok {
		retry(http.StatusBadRequest, msgCodeDigits)
		return
	}
	c, err := s.portal.CheckCode(clientIP(r), bound, code)
	if err != nil {
		status, msg := s.codeFailure(err)
		retry(status, msg)
		return
	}
	// Post-redirect-get: the checked code waits for this browser's ready
	// page, keyed by its portal cookie, never in the URL.
	s.flashes.putFor(bound, readyPath, flash{portal: c.Code}, s.now(), readyTTL)
	http.Redirect(w, r, readyPath, http.StatusSeeOther)
}

// handlePortalReady offers the agents for the code this browser typed; a
// browser without one is sent to the form.
func (s *server) handlePortalReady(w http.ResponseWriter, r *http.Request) {
	bound := cookie(r, portalCookie)
	if bound == "" {
		http.Redirect(w, r, "/support", http.StatusSeeOther)
		return
	}
	f, ok := s.flashes.take(bound, readyPath, s.now())
	if !ok {
		http.Redirect(w, r, "/support", http.StatusSeeOther)
		return
	}
	s.flashes.putFor(bound, readyPath, f, s.now(), readyTTL) // a reload shows it again
	s.render(w, r, http.StatusOK, templates.PortalReady(s.readyView(r, f.portal)))
}

// codeFailure maps CheckCode's refusal to a status and a message safe to
// show the person who typed the code.
func (s *server) codeFailure(err error) (int, string) {
	switch {
	case errors.Is(err, desk.ErrCodeRateLimited):
		return http.StatusTooManyRequests, sentence(desk.ErrCodeRateLimited.Error())
	case errors.Is(err, support.ErrNoCode):
		return http.StatusNotFound, sentence(support.ErrNoCode.Error()) + " Check the six digits with your technician."
	case errors.Is(err, support.ErrUsed):
		return http.StatusConflict, sentence(support.ErrUsed.Error()) + " Ask your technician for a new one."
	case errors.Is(err, support.ErrCancelled):
		return http.StatusGone, sentence(support.ErrCancelled.Error()) + " Ask your technician for a new one."
	case errors.Is(err, support.ErrExpired):
		return http.StatusGone, sentence(support.ErrExpired.Error()) + " Ask your technician for a new one."
	}
	s.log.Error("web: checking a support code", "err", err)
	return http.StatusInternalServerError, msgCodeFailed
}

// readyView offers the one-time agent for every system the coordinator has
// one for, the visitor's first, and the installed agent second.
func (s *server) readyView(r *http.Request, code string) templates.PortalReadyView {
	mine := visitorBuildOf(r)
	v := templates.PortalReadyView{
		Code: code, AgentLink: "peerdesk://session/" + code, Browser: visitorBrowser(r.UserAgent()),
	}
	if b, ok := findBuild(mine); ok {
		v.OS = b.family
	}
	v.FileName = templates.SupportFileName(code, v.OS)
	for _, b := range agentBuilds {
		if !s.haveBuild(b) {
			continue
		}
		d := templates.Download{
			Label: b.label, URL: "/support/download/" + code + "/" + b.name,
			FileName: templates.SupportFileName(code, b.family), Primary: b.name == mine,
		}
		if d.Primary {
			v.Downloads = append([]templates.Download{d}, v.Downloads...)
		} else {
			v.Downloads = append(v.Downloads, d)
		}
	}
	return v
}

// handleDownload streams the one-time agent for a system with the code,
// the coordinator's URL and its CA pin appended. The code is checked again
// (rate-limited and audited like the form); the file comes from a fixed
// table of names, never from the request.
func (s *server) handleDownload(w http.ResponseWriter, r *http.Request) {
	b, ok := findBuild(r.PathValue("os"))
	if !ok {
		s.portalMessage(w, r, http.StatusNotFound, "Not found", "There is no one-time agent for that system.")
		return
	}
	c, err := s.portal.CheckCode(clientIP(r), cookie(r, portalCookie), r.PathValue("code"))
	if err != nil {
		status, msg := s.codeFailure(err)
		s.portalMessage(w, r, status, "Code not accepted", msg)
		return
	}
	f, size, err := s.openBuild(b)
	if errors.Is(err, fs.ErrNotExist) {
		s.portalMessage(w, r, http.StatusNotFound, "Not available", msgNoBinary)
		return
	}
	if err != nil {
		s.log.Error("web: opening a one-time agent", "os", b.name, "err", err)
		s.portalMessage(w, r, http.StatusInternalServerError, "Download failed", "The download could not be prepared; please try again.")
		return
	}
	defer f.Close()
	cfg := wire.SupportConfig{Code: c.Code, CoordinatorURL: s.publicURL, Pin: s.pin}
	trailer, err := supportpack.Encode(cfg)
	if err != nil {
		s.log.Error("web: the one-time agent's configuration", "err", err)
		s.portalMessage(w, r, http.StatusInternalServerError, "Download failed", "The download could not be prepared; please tell your technician.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", templates.SupportFileName(c.Code, b.family)))
	h.Set("Content-Length", strconv.FormatInt(size+int64(len(trailer)), 10))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	s.log.Info("web: one-time agent download", "os", b.name, "ip", clientIP(r))
	if _, err := supportpack.Write(w, io.LimitReader(f, size), cfg); err != nil {
		s.log.Warn("web: one-time agent download interrupted", "os", b.name, "err", err)
	}
}

// openBuild opens a build's executable, a regular file in the binaries
// directory.
func (s *server) openBuild(b agentBuild) (*os.File, int64, error) {
	if s.binaries == "" {
		return nil, 0, fs.ErrNotExist
	}
	f, err := os.Open(filepath.Join(s.binaries, b.file()))
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// haveBuild reports whether the coordinator can serve a build.
func (s *server) haveBuild(b agentBuild) bool {
	if s.binaries == "" {
		return false
	}
	st, err := os.Stat(filepath.Join(s.binaries, b.file()))
	return err == nil && st.Mode().IsRegular()
}

func (s *server) portalMessage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	s.render(w, r, status, templates.PortalMessage(templates.PortalMessageView{Title: title, Message: msg}))
}

// normalizeCode accepts six digits, allowing spaces and dashes between
// them as people type codes read out to them.
func normalizeCode(s string) (string, bool) {
	if len(s) > 32 {
		return "", false
	}
	s = strings.Map(func(r rune) rune {
		if r == '-' || unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	if len(s) != 6 || strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
		return "", false
	}
	return s, true
}

// sentence makes an error message a sentence.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}
