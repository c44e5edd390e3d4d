package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	ticketstore "github.com/peerdesk/peerdesk/coordinator/tickets"
	"github.com/peerdesk/peerdesk/wire"
)

// Ticket routes (T6): agents file with their device credentials; the
// technicians' routes work with a session token or an API key.

// maxAttachBody bounds a POST of one attachment (base64 in JSON).
const maxAttachBody = wire.MaxAttachmentSize/3*4 + 8<<10

// bigBodies bounds how many large ticket bodies are read at once: each
// may hold up to wire.MaxTicketBody bytes while it is decoded.
var bigBodies = make(chan struct{}, 4)

// decodeBig is decode with a larger bound, for ticket bodies that carry
// attachments; it answers 503 itself when too many are being read.
func decodeBig(w http.ResponseWriter, r *http.Request, limit int64, v any) (bool, error) {
	select {
	case bigBodies <- struct{}{}:
		defer func() { <-bigBodies }()
	default:
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, wire.CodeRateLimited, "busy; retry in a few seconds")
		return false, nil
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return true, fmt.Errorf("request body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return true, errors.New("request body: trailing data after the JSON value")
	}
	return true, nil
}

// handleAgentTicket: an enrolled agent files a ticket for its end user.
func (s *Server) handleAgentTicket(w http.ResponseWriter, r *http.Request, dev enroll.Device) {
	var t wire.AgentTicket
	ok, err := decodeBig(w, r, wire.MaxTicketBody, &t)
	if !ok {
		return
	}
	if err != nil {
		s.unreadable(w, desk.Caller{User: "device:" + dev.ID, IP: clientIP(r), Via: "api"}, "ticket.file", err)
		return
	}
	rc, err := s.desk.FileAgentTicket(dev, t)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rc)
}

func (s *Server) handleTickets(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	q := r.URL.Query()
	query := ticketstore.Query{Status: q.Get("status"), Priority: q.Get("priority"), Assignee: q.Get("assignee"),
		Company: q.Get("company"), Device: q.Get("device"), Text: q.Get("q")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			badRequest(w, errors.New("limit: not a number"))
			return
		}
		query.Limit = n
	}
	l, err := s.desk.Tickets(c, query)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

func (s *Server) handleTicket(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	t, err := s.desk.Ticket(c, r.PathValue("number"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) handleCreateTicket(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	var req wire.TicketCreate
	if err := decode(w, r, &req); err != nil {
		s.unreadable(w, c, "ticket.create", err)
		return
	}
	t, err := s.desk.CreateTicket(c, req)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

func (s *Server) handleUpdateTicket(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	var req wire.TicketUpdate
	if err := decode(w, r, &req); err != nil {
		s.unreadable(w, c, "ticket.update", err)
		return
	}
	t, err := s.desk.UpdateTicket(c, r.PathValue("number"), req)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) handleCommentTicket(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	var req wire.TicketComment
	if err := decode(w, r, &req); err != nil {
		s.unreadable(w, c, "ticket.comment", err)
		return
	}
	t, err := s.desk.CommentTicket(c, r.PathValue("number"), req.Text)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) handleAttachTicket(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	var req wire.Attachment
	ok, err := decodeBig(w, r, maxAttachBody, &req)
	if !ok {
		return
	}
	if err != nil {
		s.unreadable(w, c, "ticket.attach", err)
		return
	}
	t, err := s.desk.AttachTicket(c, r.PathValue("number"), req)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// handleAttachment serves an attachment's bytes with its stored type
// (one of tickets.AttachmentTypes), never sniffed, in a sandbox.
func (s *Server) handleAttachment(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	i, err := strconv.Atoi(r.PathValue("index"))
	if err != nil {
		badRequest(w, errors.New("index: not a number"))
		return
	}
	info, data, err := s.desk.TicketAttachment(c, r.PathValue("number"), i)
	if err != nil {
		fail(w, err)
		return
	}
	ServeAttachment(w, info, data, false)
}

// ServeAttachment writes an attachment: its stored type, nosniff, a
// sandboxing Content-Security-Policy, and "attachment" disposition
// unless inline is asked for an image.
func ServeAttachment(w http.ResponseWriter, info wire.AttachmentInfo, data []byte, inline bool) {
	h := w.Header()
	h.Set("Content-Type", info.Type)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "no-store")
	disp := "attachment"
	if inline && (info.Type == "image/png" || info.Type == "image/jpeg") {
		disp = "inline"
	}
	h.Set("Content-Disposition", disp+"; filename="+strconv.Quote(fmt.Sprintf("attachment-%d", info.Index)))
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	w.Write(data) //nolint:errcheck // client gone
}

func (s *Server) handleWebhooks(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	l, err := s.desk.Webhooks(c)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	var req wire.WebhookCreate
	if err := decode(w, r, &req); err != nil {
		s.unreadable(w, c, "webhook.create", err)
		return
	}
	h, err := s.desk.CreateWebhook(c, req)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, h)
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	if err := s.desk.DeleteWebhook(c, r.PathValue("id")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleWebhookDeliveries(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	l, err := s.desk.WebhookDeliveries(c, r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}
