package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/peerdesk/peerdesk/coordinator/desk"
	ticketstore "github.com/peerdesk/peerdesk/coordinator/tickets"
	"github.com/peerdesk/peerdesk/policy"
	templates "github.com/peerdesk/peerdesk/templates/dashboard"
	"github.com/peerdesk/peerdesk/templates/style"
	"github.com/peerdesk/peerdesk/wire"
)

// Tickets is what the Tickets tab needs of the coordinator's decisions
// (*desk.Desk implements it); every method decides for its caller and
// audits.
type Tickets interface {
	Tickets(c desk.Caller, q ticketstore.Query) (wire.TicketList, error)
	Ticket(c desk.Caller, number string) (wire.Ticket, error)
	TicketAttachment(c desk.Caller, number string, i int) (wire.AttachmentInfo, []byte, error)
	CreateTicket(c desk.Caller, tc wire.TicketCreate) (wire.Ticket, error)
	UpdateTicket(c desk.Caller, number string, u wire.TicketUpdate) (wire.Ticket, error)
	CommentTicket(c desk.Caller, number, text string) (wire.Ticket, error)
	// TicketsChanged is closed at the next change of any ticket.
	TicketsChanged() <-chan struct{}
	Webhooks(c desk.Caller) ([]wire.Webhook, error)
	CreateWebhook(c desk.Caller, wc wire.WebhookCreate) (wire.Webhook, error)
	DeleteWebhook(c desk.Caller, id string) error
	WebhookDeliveries(c desk.Caller, id string) ([]wire.WebhookDelivery, error)
}

const (
	ticketsPath   = "/tickets"
	ticketsEvents = "/tickets/events"
	webhooksPath  = "/tickets/webhooks"
	ticketRows    = 200 // tickets the tab lists
	deliveryRows  = 20  // attempts shown per webhook
	timeFormat    = "2006-01-02 15:04"
)

// ticketsCSP is the policy of the Tickets pages: their script, its event
// stream, the shared styles and the screenshots served here.
const ticketsCSP = "default-src 'none'; script-src 'self'; connect-src 'self'; " + style.Policy + "; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// ticketsTab marks a Tickets page: its policy and its tab.
func ticketsTab(h sessHandler) sessHandler {
	return func(s *server, w http.ResponseWriter, r *http.Request, sess session) {
		w.Header().Set("Content-Security-Policy", ticketsCSP)
		sess.nav.Active = templates.TabTickets
		h(s, w, r, sess)
	}
}

// mayDo says whether the session's role may take a (the desk decides
// again; this only chooses what the page offers).
func mayDo(sess session, a policy.Action) bool {
	return !sess.caller.SetupOnly && policy.Allow(sess.Role, a) == nil
}

func choices(values []string, selected string) []templates.Choice {
	out := make([]templates.Choice, len(values))
	for i, v := range values {
		out[i] = templates.Choice{Value: v, Label: strings.ReplaceAll(v, "_", " "), Selected: v == selected}
	}
	return out
}

// filterOf reads the Tickets tab's filter from a query string.
func filterOf(q url.Values) templates.TicketFilter {
	return templates.TicketFilter{Status: q.Get("status"), Priority: q.Get("priority"), Assignee: q.Get("assignee"),
		Company: q.Get("company"), Device: q.Get("device"), Q: q.Get("q")}
}

func queryOf(f templates.TicketFilter) ticketstore.Query {
	return ticketstore.Query{Status: f.Status, Priority: f.Priority, Assignee: f.Assignee, Company: f.Company, Device: f.Device, Text: f.Q, Limit: ticketRows}
}

// encode is the filter as a query string (without empty fields).
func encodeFilter(f templates.TicketFilter) string {
	v := url.Values{}
	for k, x := range map[string]string{"status": f.Status, "priority": f.Priority, "assignee": f.Assignee, "company": f.Company, "device": f.Device, "q": f.Q} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v.Encode()
}

func ticketURL(number string) string { return ticketsPath + "/" + url.PathEscape(number) }

func (s *server) listView(l wire.TicketList) templates.TicketListView {
	v := templates.TicketListView{Total: l.Total}
	for _, t := range l.Tickets {
		dev := t.DeviceName
		if dev == "" {
			dev = t.Device
		}
		sum := t.Summary
		if len(sum) > 160 {
			sum = strings.ToValidUTF8(sum[:160], "") + "…"
		}
		v.Rows = append(v.Rows, templates.TicketRow{Number: t.Number, URL: ticketURL(t.Number), Title: t.Title,
			Status: strings.ReplaceAll(t.Status, "_", " "), Priority: t.Priority, Assignee: t.Assignee, Company: t.Company,
			Device: dev, User: t.User, Updated: t.Updated.UTC().Format(timeFormat), Summary: sum})
	}
	return v
}

// renderLive renders a live part and its version (a digest of the HTML).
func renderLive(ctx context.Context, c templ.Component) (string, string, error) {
	var buf bytes.Buffer
	if err := c.Render(ctx, &buf); err != nil {
		return "", "", err
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.String(), hex.EncodeToString(sum[:12]), nil
}

func (s *server) handleTickets(w http.ResponseWriter, r *http.Request, sess session) {
	f := filterOf(r.URL.Query())
	fl := s.flashFor(sess, ticketsPath)
	s.renderTickets(w, r, sess, f, http.StatusOK, fl.notice, "")
}

func (s *server) renderTickets(w http.ResponseWriter, r *http.Request, sess session, f templates.TicketFilter, status int, notice, errMsg string) {
	l, err := s.tickets.Tickets(sess.caller, queryOf(f))
	if err != nil {
		st, msg := s.failure("listing tickets", err)
		if desk.KindOf(err) != desk.Invalid {
			s.errorPage(w, r, st, &sess.nav, "Not available", msg)
			return
		}
		status, errMsg, f = st, msg, templates.TicketFilter{}
		if l, err = s.tickets.Tickets(sess.caller, queryOf(f)); err != nil {
			s.errorPage(w, r, http.StatusInternalServerError, &sess.nav, "Not available", "That did not work; try again.")
			return
		}
	}
	lv := s.listView(l)
	_, version, err := renderLive(r.Context(), templates.TicketList(lv))
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, &sess.nav, "Not available", "That did not work; try again.")
		return
	}
	events := ticketsEvents
	if q := encodeFilter(f); q != "" {
		events += "?" + q
	}
	s.render(w, r, status, templates.TicketsPage(templates.TicketsView{
		Nav: sess.nav, CSRF: sess.nav.CSRF, Filter: f, Statuses: choices(wire.Statuses, f.Status), Priorities: choices(wire.Priorities, f.Priority),
		List: lv, Events: events, Version: version, CanWork: mayDo(sess, policy.ActionWorkTickets),
		Webhooks: mayDo(sess, policy.ActionManageWebhooks), Notice: notice, Error: errMsg,
	}))
}

func (s *server) handleCreateTicket(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	f := r.PostForm
	t, err := s.tickets.CreateTicket(sess.caller, wire.TicketCreate{Title: f.Get("title"), Description: f.Get("description"),
		Priority: f.Get("priority"), Company: f.Get("company"), Device: f.Get("device")})
	if err != nil {
		status, msg := s.failure("filing a ticket", err)
		s.renderTickets(w, r, sess, templates.TicketFilter{}, status, "", msg)
		return
	}
	s.done(w, r, sess, ticketURL(t.Number), flash{notice: "Ticket " + t.Number + " filed."})
}

func (s *server) bodyView(t wire.Ticket) templates.TicketBodyView {
	b := templates.TicketBodyView{Number: t.Number, Title: t.Title, Description: t.Description, Status: strings.ReplaceAll(t.Status, "_", " "),
		Priority: t.Priority, Assignee: t.Assignee, Company: t.Company, User: t.User, Source: t.Source,
		Created: t.Created.UTC().Format(timeFormat), Updated: t.Updated.UTC().Format(timeFormat),
		Device: t.Device, DeviceName: t.DeviceName, Summary: t.Summary, SummaryState: t.SummaryAt, Sessions: t.Sessions, Version: t.Version}
	if b.DeviceName == "" {
		b.DeviceName = t.Device
	}
	if t.Device != "" {
		b.DeviceURL = "/machines?" + url.Values{"m": {t.Device}}.Encode() // its panel on Machines
	}
	for _, c := range t.Chat {
		b.Chat = append(b.Chat, templates.ChatRow{Role: c.Role, Text: c.Text, Time: c.Time.UTC().Format(timeFormat)})
	}
	for _, c := range t.Comments {
		b.Comments = append(b.Comments, templates.CommentRow{Author: c.Author, Text: c.Text, Time: c.Time.UTC().Format(timeFormat)})
	}
	for _, a := range t.Attachments {
		u := ticketURL(t.Number) + "/attachments/" + strconv.Itoa(a.Index)
		b.Attachments = append(b.Attachments, templates.AttachmentRow{Name: a.Name, Type: a.Type, Size: sizeOf(a.Size), URL: u,
			Image: a.Type == "image/png" || a.Type == "image/jpeg"})
	}
	return b
}

func sizeOf(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return strconv.Itoa(n) + " bytes"
}

func (s *server) handleTicket(w http.ResponseWriter, r *http.Request, sess session) {
	number := r.PathValue("number")
	fl := s.flashFor(sess, ticketURL(number))
	s.renderTicket(w, r, sess, number, http.StatusOK, fl.notice, "")
}

func (s *server) renderTicket(w http.ResponseWriter, r *http.Request, sess session, number string, status int, notice, errMsg string) {
	t, err := s.tickets.Ticket(sess.caller, number)
	if err != nil {
		st, msg := s.failure("reading a ticket", err)
		s.errorPage(w, r, st, &sess.nav, "Not available", msg)
		return
	}
	body := s.bodyView(t)
	_, version, err := renderLive(r.Context(), templates.TicketBody(body))
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, &sess.nav, "Not available", "That did not work; try again.")
		return
	}
	v := templates.TicketView{Nav: sess.nav, CSRF: sess.nav.CSRF, Number: t.Number, Body: body, Version: version,
		Events: ticketURL(t.Number) + "/events", CanWork: mayDo(sess, policy.ActionWorkTickets),
		Statuses: choices(wire.Statuses, t.Status), Priorities: choices(wire.Priorities, t.Priority), Assignee: t.Assignee,
		Notice: notice, Error: errMsg}
	if t.Device != "" && s.desk != nil && mayDo(sess, policy.ActionRequestGrant) {
		v.ConnectURL = s.deviceConnectURL(t.Device)
	}
	s.render(w, r, status, templates.TicketPage(v))
}

func (s *server) handleUpdateTicket(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	number, f := r.PathValue("number"), r.PostForm
	u := wire.TicketUpdate{Status: f.Get("status"), Priority: f.Get("priority"), Assignee: strings.TrimSpace(f.Get("assignee"))}
	if u.Assignee == "" {
		u.Assignee = "-" // the field emptied: nobody
	}
	if _, err := s.tickets.UpdateTicket(sess.caller, number, u); err != nil {
		status, msg := s.failure("changing a ticket", err)
		if k := desk.KindOf(err); k != desk.Invalid && k != desk.Conflict {
			s.errorPage(w, r, status, &sess.nav, "Not done", msg)
			return
		}
		s.renderTicket(w, r, sess, number, status, "", msg)
		return
	}
	s.done(w, r, sess, ticketURL(number), flash{notice: "Saved."})
}

func (s *server) handleCommentTicket(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	number := r.PathValue("number")
	if _, err := s.tickets.CommentTicket(sess.caller, number, r.PostForm.Get("text")); err != nil {
		status, msg := s.failure("commenting on a ticket", err)
		if k := desk.KindOf(err); k != desk.Invalid && k != desk.Conflict {
			s.errorPage(w, r, status, &sess.nav, "Not done", msg)
			return
		}
		s.renderTicket(w, r, sess, number, status, "", msg)
		return
	}
	s.done(w, r, sess, ticketURL(number), flash{notice: "Comment added."})
}

// handleTicketAttachment serves an attachment with its stored type,
// nosniff and a sandbox; screenshots inline (the ticket page shows them).
func (s *server) handleTicketAttachment(w http.ResponseWriter, r *http.Request, sess session) {
	i, err := strconv.Atoi(r.PathValue("index"))
	if err != nil {
		s.errorPage(w, r, http.StatusNotFound, &sess.nav, "Not found", "No such attachment.")
		return
	}
	info, data, err := s.tickets.TicketAttachment(sess.caller, r.PathValue("number"), i)
	if err != nil {
		st, msg := s.failure("reading an attachment", err)
		s.errorPage(w, r, st, &sess.nav, "Not available", msg)
		return
	}
	h := w.Header()
	h.Set("Content-Type", info.Type)
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	disp := "attachment"
	if info.Type == "image/png" || info.Type == "image/jpeg" {
		disp = "inline"
	}
	h.Set("Content-Disposition", disp+`; filename="attachment-`+strconv.Itoa(info.Index)+`"`)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(data) //nolint:errcheck // client gone
	}
}

// handleTicketsEvents streams the Tickets tab's list, under the filter of
// its query, as server-sent "live" events; see handleLive.
func (s *server) handleTicketsEvents(w http.ResponseWriter, r *http.Request, sess session) {
	q := queryOf(filterOf(r.URL.Query()))
	s.handleLive(w, r, sess, func(ctx context.Context) (string, string, error) {
		l, err := s.tickets.Tickets(sess.caller, q)
		if err != nil {
			return "", "", err
		}
		return renderLive(ctx, templates.TicketList(s.listView(l)))
	})
}

// handleTicketEvents streams a ticket's page's live part.
func (s *server) handleTicketEvents(w http.ResponseWriter, r *http.Request, sess session) {
	number := r.PathValue("number")
	s.handleLive(w, r, sess, func(ctx context.Context) (string, string, error) {
		t, err := s.tickets.Ticket(sess.caller, number)
		if err != nil {
			return "", "", err
		}
		return renderLive(ctx, templates.TicketBody(s.bodyView(t)))
	})
}

// handleLive streams what render returns as "live" events whenever its
// version differs from the browser's (?v= first, Last-Event-ID on
// reconnection): at once, at each change of the tickets
// (TicketsChanged) and at each refresh; it sends "logout" and ends when
// the session does. A first render refused (out of scope, a bad filter)
// answers an error page instead of a stream.
func (s *server) handleLive(w http.ResponseWriter, r *http.Request, sess session, render func(context.Context) (string, string, error)) {
	if _, _, err := render(r.Context()); err != nil {
		status, msg := s.failure("opening a live view", err)
		s.errorPage(w, r, status, &sess.nav, "Not available", msg)
		return
	}
	key := s.csrfToken(purposeSession, sess.token)
	if !s.streams.acquire(key) {
		s.errorPage(w, r, http.StatusTooManyRequests, &sess.nav, "Too many live views", "Too many live pages are open; close some and reload.")
		return
	}
	defer s.streams.release(key)
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("v")
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(msg string) bool {
		if _, err := io.WriteString(w, msg); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("retry: " + streamRetry + "\n\n") {
		return
	}
	tick := time.NewTicker(s.refresh)
	defer tick.Stop()
	for {
		changed := s.tickets.TicketsChanged()
		if _, err := s.be.Session(sess.token); err != nil {
			send("event: logout\ndata: \n\n")
			return
		}
		html, version, err := render(r.Context())
		switch {
		case errors.Is(err, desk.ErrNotFound):
			send("event: logout\ndata: \n\n") // gone from scope: the reload says so
			return
		case err != nil:
			s.log.Warn("web: live tickets", "err", err)
		case version != last:
			if !send(event("live", version, html)) {
				return
			}
			last = version
		}
		select {
		case <-r.Context().Done():
			return
		case <-changed:
		case <-tick.C:
			if !send(": keep-alive\n\n") {
				return
			}
		}
	}
}

// ticketsJS enhances the Tickets pages with live updates.
//
//go:embed static/tickets.js
var ticketsJS []byte

func handleTicketsScript(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(ticketsJS) //nolint:errcheck // client gone
	}
}

func (s *server) handleWebhooks(w http.ResponseWriter, r *http.Request, sess session) {
	fl := s.flashFor(sess, webhooksPath)
	s.renderWebhooks(w, r, sess, http.StatusOK, fl.webhook, "")
}

func (s *server) renderWebhooks(w http.ResponseWriter, r *http.Request, sess session, status int, created *templates.CreatedWebhook, errMsg string) {
	hooks, err := s.tickets.Webhooks(sess.caller)
	if err != nil {
		st, msg := s.failure("listing webhooks", err)
		s.errorPage(w, r, st, &sess.nav, "Not available", msg)
		return
	}
	v := templates.WebhooksView{Nav: sess.nav, CSRF: sess.nav.CSRF, Events: wire.WebhookEvents, Created: created, Error: errMsg}
	for _, h := range hooks {
		row := templates.WebhookRow{ID: h.ID, URL: h.URL, Events: strings.Join(h.Events, ", "), Created: h.Created.UTC().Format(timeFormat)}
		log, err := s.tickets.WebhookDeliveries(sess.caller, h.ID)
		if err != nil {
			s.log.Warn("web: a webhook's deliveries", "hook", h.ID, "err", err)
		}
		for _, d := range log[:min(len(log), deliveryRows)] {
			st := ""
			if d.Status != 0 {
				st = strconv.Itoa(d.Status)
			}
			row.Deliveries = append(row.Deliveries, templates.DeliveryRow{Delivery: d.Delivery, Event: d.Event, Time: d.Time.UTC().Format(time.DateTime),
				Status: st, Outcome: d.Outcome, Error: d.Error, Attempt: d.Attempt})
		}
		v.Hooks = append(v.Hooks, row)
	}
	s.render(w, r, status, templates.WebhooksPage(v))
}

func (s *server) handleCreateWebhook(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	events := slices.DeleteFunc(slices.Clone(r.PostForm["events"]), func(e string) bool { return !slices.Contains(wire.WebhookEvents, e) })
	h, err := s.tickets.CreateWebhook(sess.caller, wire.WebhookCreate{URL: strings.TrimSpace(r.PostForm.Get("url")), Events: events})
	if err != nil {
		status, msg := s.failure("adding a webhook", err)
		s.renderWebhooks(w, r, sess, status, nil, msg)
		return
	}
	s.done(w, r, sess, webhooksPath, flash{webhook: &templates.CreatedWebhook{ID: h.ID, URL: h.URL, Secret: h.Secret}})
}

func (s *server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	if err := s.tickets.DeleteWebhook(sess.caller, r.PathValue("id")); err != nil {
		status, msg := s.failure("deleting a webhook", err)
		s.renderWebhooks(w, r, sess, status, nil, msg)
		return
	}
	s.done(w, r, sess, webhooksPath, flash{})
}
