package desk

import (
	"errors"
	"strconv"
	"strings"

	"github.com/peerdesk/peerdesk/coordinator/enroll"
	ticketstore "github.com/peerdesk/peerdesk/coordinator/tickets"
	"github.com/peerdesk/peerdesk/coordinator/webhooks"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// The help desk's tickets (T6). Agents file them with their device
// credentials (FileAgentTicket), once per AgentTicket.ID; technicians and
// integrations (API keys) read them with policy.ActionReadTickets and
// file, change, assign, comment on and attach to them with
// ActionWorkTickets, each in their company scope: a ticket belongs to its
// device's company as the registry files it, or to the company a
// technician filed it under, and a ticket out of scope reads as absent.
// Every write is audited ("ticket.*", with the ticket's number as the
// target) and queued for the webhooks subscribed to its event. Admins
// configure the webhooks (ActionManageWebhooks, never with an API key:
// a webhook carries a secret).

// ErrNoTickets says the coordinator keeps no tickets (Config.Tickets is
// nil).
var ErrNoTickets = errors.New("desk: this coordinator keeps no tickets")

// TicketsChanged returns a channel closed at the next change of any
// ticket (nil if the coordinator keeps none). Take it before reading.
func (d *Desk) TicketsChanged() <-chan struct{} {
	if d.cfg.Tickets == nil {
		return nil
	}
	return d.cfg.Tickets.Changed()
}

// ticketErr maps a tickets error to a desk refusal.
func ticketErr(err error) *Error {
	switch {
	case errors.Is(err, ticketstore.ErrInvalid):
		return newErr(Invalid, sentenceOf(err, ticketstore.ErrInvalid), err)
	case errors.Is(err, ticketstore.ErrFull):
		return newErr(Conflict, sentenceOf(err, ticketstore.ErrFull), err)
	case errors.Is(err, ticketstore.ErrNotFound):
		return newErr(NotFound, "No such ticket.", err)
	}
	return internal("the ticket could not be stored", err)
}

// sentenceOf is err's text without its sentinel's prefix.
func sentenceOf(err, sentinel error) string {
	s := strings.TrimPrefix(err.Error(), sentinel.Error()+": ")
	if s == "" {
		return sentinel.Error()
	}
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

// ticketsReady refuses, audited, a caller whose role may not take a, or a
// coordinator that keeps no tickets.
func (d *Desk) ticketsReady(c Caller, a policy.Action, ev wire.AuditEvent) error {
	if err := d.allow(c, a, ev); err != nil {
		return err
	}
	if d.cfg.Tickets == nil {
		return d.refuse(ev, newErr(Unavailable, "This coordinator keeps no tickets.", ErrNoTickets))
	}
	return nil
}

// inScope returns the ticket's header if the caller's scope holds it;
// out of scope reads as absent.
func (d *Desk) ticketInScope(c Caller, number string, ev wire.AuditEvent) (wire.Ticket, error) {
	t, err := d.cfg.Tickets.Header(number)
	if err == nil && !c.sees(t.Company) {
		err = ErrOutOfScope
	}
	if err != nil {
		return wire.Ticket{}, d.refuse(ev, newErr(NotFound, "No such ticket.", err))
	}
	return t, nil
}

// webhook queues event for the webhooks; a full queue is logged, not
// refused: the ticket is already stored.
func (d *Desk) webhook(event, actor string, t wire.Ticket) {
	if d.cfg.Webhooks == nil {
		return
	}
	t.Comments, t.Chat = nil, nil
	p := wire.WebhookPayload{Event: event, Time: d.now().UTC(), Ticket: t, Actor: actor}
	if _, err := d.cfg.Webhooks.Enqueue(event, p); err != nil {
		d.log.Error("webhooks: queueing", "event", event, "ticket", t.Number, "err", err)
	}
}

// FileAgentTicket files the ticket an enrolled agent sends for its end
// user, under the company the registry files the device in. A second
// filing of the same ID answers the first one's receipt with Duplicate
// set and files nothing.
func (d *Desk) FileAgentTicket(dev enroll.Device, t wire.AgentTicket) (wire.AgentTicketReceipt, error) {
	ev := wire.AuditEvent{Actor: "device:" + clip(dev.ID), Action: "ticket.file", Fields: map[string]string{"ticket_id": clip(t.ID)}}
	if d.cfg.Tickets == nil {
		return wire.AgentTicketReceipt{}, d.refuse(ev, newErr(Unavailable, "This coordinator keeps no tickets.", ErrNoTickets))
	}
	// The registry's record files it: the company the device is filed in
	// now, never the agent's own claim.
	dv, err := d.cfg.Registry.Device(dev.ID)
	if err != nil {
		return wire.AgentTicketReceipt{}, d.refuse(ev, newErr(Unauthenticated, "unknown device", err))
	}
	dev = dv
	company, _ := dev.Filed()
	tk, dup, err := d.cfg.Tickets.FileAgent(ticketstore.Device{ID: dev.ID, Name: dev.Hostname, Company: company}, t)
	if err != nil {
		return wire.AgentTicketReceipt{}, d.refuse(ev, ticketErr(err))
	}
	ev.Target = tk.Number
	ev.Fields["duplicate"] = boolString(dup)
	if dup {
		d.ok(ev)
	} else {
		ev.Fields["priority"] = tk.Priority
		ev.Fields["attachments"] = strconv.Itoa(len(tk.Attachments))
		ev.Fields["chat_lines"] = strconv.Itoa(len(t.Chat))
		d.ok(ev)
		d.webhook(wire.EventTicketCreated, ev.Actor, tk)
		if d.cfg.Summaries != nil && tk.SummaryAt == wire.SummaryPending {
			d.cfg.Summaries.Kick()
		}
	}
	return wire.AgentTicketReceipt{Ticket: tk.Number, Duplicate: dup}, nil
}

// SummaryWritten audits a ticket's AI summary and tells the webhooks; the
// coordinator passes it as the Summarizer's Done.
func (d *Desk) SummaryWritten(t wire.Ticket) {
	d.ok(wire.AuditEvent{Actor: "assistant", Action: "ticket.summary", Target: t.Number, Fields: map[string]string{}})
	d.webhook(wire.EventTicketSummary, "assistant", t)
}

// Tickets lists and searches the tickets in the caller's scope.
func (d *Desk) Tickets(c Caller, q ticketstore.Query) (wire.TicketList, error) {
	ev := c.event("tickets.list", "")
	if err := d.ticketsReady(c, policy.ActionReadTickets, ev); err != nil {
		return wire.TicketList{}, err
	}
	l, err := d.cfg.Tickets.List(q, c.sees)
	if err != nil {
		return wire.TicketList{}, d.refuse(ev, ticketErr(err))
	}
	return l, nil
}

// Ticket returns a ticket in the caller's scope with its comments and chat.
func (d *Desk) Ticket(c Caller, number string) (wire.Ticket, error) {
	ev := c.event("ticket.read", number)
	if err := d.ticketsReady(c, policy.ActionReadTickets, ev); err != nil {
		return wire.Ticket{}, err
	}
	if _, err := d.ticketInScope(c, number, ev); err != nil {
		return wire.Ticket{}, err
	}
	t, err := d.cfg.Tickets.Get(number)
	if err != nil {
		return wire.Ticket{}, d.refuse(ev, ticketErr(err))
	}
	return t, nil
}

// TicketAttachment returns attachment i of a ticket in the caller's scope.
func (d *Desk) TicketAttachment(c Caller, number string, i int) (wire.AttachmentInfo, []byte, error) {
	ev := c.event("ticket.attachment.read", number)
	if err := d.ticketsReady(c, policy.ActionReadTickets, ev); err != nil {
		return wire.AttachmentInfo{}, nil, err
	}
	if _, err := d.ticketInScope(c, number, ev); err != nil {
		return wire.AttachmentInfo{}, nil, err
	}
	info, data, err := d.cfg.Tickets.Attachment(number, i)
	if err != nil {
		return wire.AttachmentInfo{}, nil, d.refuse(ev, ticketErr(err))
	}
	return info, data, nil
}

// CreateTicket files a technician's ticket: about a device in scope (under
// its company), or under a company in scope (an account limited to some
// companies must name one).
func (d *Desk) CreateTicket(c Caller, tc wire.TicketCreate) (wire.Ticket, error) {
	ev := c.event("ticket.create", "")
	if err := d.ticketsReady(c, policy.ActionWorkTickets, ev); err != nil {
		return wire.Ticket{}, err
	}
	var dev ticketstore.Device
	if tc.Device != "" {
		dv, err := d.cfg.Registry.Device(tc.Device)
		company, _ := dv.Filed()
		if err == nil && !c.sees(company) {
			err = ErrOutOfScope
		}
		if err != nil {
			return wire.Ticket{}, d.refuse(ev, newErr(NotFound, "No such machine.", err))
		}
		dev = ticketstore.Device{ID: dv.ID, Name: dv.Hostname, Company: company}
	} else if !c.sees(tc.Company) {
		return wire.Ticket{}, d.refuse(ev, newErr(NotFound, "No such company in your scope.", ErrOutOfScope))
	}
	if tc.Assignee != "" {
		if err := d.checkAssignee(tc.Assignee); err != nil {
			return wire.Ticket{}, d.refuse(ev, err)
		}
	}
	t, err := d.cfg.Tickets.Create(c.User, tc, dev)
	if err != nil {
		return wire.Ticket{}, d.refuse(ev, ticketErr(err))
	}
	ev.Target = t.Number
	ev.Fields["company"] = clip(t.Company)
	d.ok(ev)
	d.webhook(wire.EventTicketCreated, c.User, t)
	return t, nil
}

// checkAssignee accepts an account that may work tickets.
func (d *Desk) checkAssignee(name string) *Error {
	if name == "-" {
		return nil
	}
	u, err := d.cfg.Accounts.Get(name)
	if err != nil {
		return newErr(Invalid, "No such technician to assign.", err)
	}
	if policy.Allow(u.Role, policy.ActionWorkTickets) != nil {
		return newErr(Invalid, "That account may not work tickets.", policy.ErrForbidden)
	}
	return nil
}

// UpdateTicket changes a ticket's status, priority, title, assignee, or
// links a support session of its device.
func (d *Desk) UpdateTicket(c Caller, number string, u wire.TicketUpdate) (wire.Ticket, error) {
	ev := c.event("ticket.update", number)
	if err := d.ticketsReady(c, policy.ActionWorkTickets, ev); err != nil {
		return wire.Ticket{}, err
	}
	cur, err := d.ticketInScope(c, number, ev)
	if err != nil {
		return wire.Ticket{}, err
	}
	if u.Assignee != "" {
		if e := d.checkAssignee(u.Assignee); e != nil {
			return wire.Ticket{}, d.refuse(ev, e)
		}
	}
	if u.Session != "" {
		ss, err := d.cfg.Support.Session(u.Session)
		if err != nil || ss.Device != cur.Device || cur.Device == "" {
			return wire.Ticket{}, d.refuse(ev, newErr(Invalid, "No such support session of this ticket's machine.", err))
		}
	}
	t, changed, err := d.cfg.Tickets.Update(number, u)
	if err != nil {
		return wire.Ticket{}, d.refuse(ev, ticketErr(err))
	}
	if len(changed) > 0 {
		ev.Fields["changed"] = strings.Join(changed, ",")
		for _, f := range changed {
			switch f {
			case "status":
				ev.Fields["status"] = t.Status
			case "priority":
				ev.Fields["priority"] = t.Priority
			case "assignee":
				ev.Fields["assignee"] = t.Assignee
			case "sessions":
				ev.Fields["session"] = clip(u.Session)
			}
		}
		d.ok(ev)
		d.webhook(wire.EventTicketUpdated, c.User, t)
	}
	return t, nil
}

// CommentTicket adds the caller's comment.
func (d *Desk) CommentTicket(c Caller, number, text string) (wire.Ticket, error) {
	ev := c.event("ticket.comment", number)
	if err := d.ticketsReady(c, policy.ActionWorkTickets, ev); err != nil {
		return wire.Ticket{}, err
	}
	if _, err := d.ticketInScope(c, number, ev); err != nil {
		return wire.Ticket{}, err
	}
	t, err := d.cfg.Tickets.Comment(number, c.User, text)
	if err != nil {
		return wire.Ticket{}, d.refuse(ev, ticketErr(err))
	}
	ev.Fields["bytes"] = strconv.Itoa(len(text))
	d.ok(ev)
	d.webhook(wire.EventTicketCommented, c.User, t)
	return t, nil
}

// AttachTicket adds an attachment.
func (d *Desk) AttachTicket(c Caller, number string, a wire.Attachment) (wire.Ticket, error) {
	ev := c.event("ticket.attach", number)
	if err := d.ticketsReady(c, policy.ActionWorkTickets, ev); err != nil {
		return wire.Ticket{}, err
	}
	if _, err := d.ticketInScope(c, number, ev); err != nil {
		return wire.Ticket{}, err
	}
	t, err := d.cfg.Tickets.Attach(number, a)
	if err != nil {
		return wire.Ticket{}, d.refuse(ev, ticketErr(err))
	}
	ev.Fields["name"] = clip(a.Name)
	ev.Fields["type"] = clip(a.Type)
	ev.Fields["bytes"] = strconv.Itoa(len(a.Data))
	d.ok(ev)
	d.webhook(wire.EventTicketUpdated, c.User, t)
	return t, nil
}

// ErrNoWebhooks says the coordinator sends no webhooks (Config.Webhooks
// is nil).
var ErrNoWebhooks = errors.New("desk: this coordinator sends no webhooks")

func (d *Desk) webhooksReady(c Caller, ev wire.AuditEvent, change bool) error {
	if err := d.allow(c, policy.ActionManageWebhooks, ev); err != nil {
		return err
	}
	if change && c.APIKey != "" {
		return d.refuse(ev, newErr(Forbidden, ErrAPIKeyOnly.Error(), ErrAPIKeyOnly))
	}
	if d.cfg.Webhooks == nil {
		return d.refuse(ev, newErr(Unavailable, "This coordinator sends no webhooks.", ErrNoWebhooks))
	}
	return nil
}

// Webhooks lists the webhooks, for an admin.
func (d *Desk) Webhooks(c Caller) ([]wire.Webhook, error) {
	if err := d.webhooksReady(c, c.event("webhooks.list", ""), false); err != nil {
		return nil, err
	}
	return d.cfg.Webhooks.List(), nil
}

// CreateWebhook configures a webhook, for an admin (not an API key); its
// secret is in the answer only.
func (d *Desk) CreateWebhook(c Caller, wc wire.WebhookCreate) (wire.Webhook, error) {
	ev := c.event("webhook.create", "")
	if err := d.webhooksReady(c, ev, true); err != nil {
		return wire.Webhook{}, err
	}
	h, err := d.cfg.Webhooks.Create(wc)
	switch {
	case errors.Is(err, webhooks.ErrInvalid):
		return wire.Webhook{}, d.refuse(ev, newErr(Invalid, sentenceOf(err, webhooks.ErrInvalid), err))
	case errors.Is(err, webhooks.ErrTooMany):
		return wire.Webhook{}, d.refuse(ev, newErr(Conflict, "Too many webhooks; delete one first.", err))
	case err != nil:
		return wire.Webhook{}, d.refuse(ev, internal("the webhook could not be stored", err))
	}
	ev.Target = h.ID
	ev.Fields["url"] = h.URL
	ev.Fields["events"] = strings.Join(h.Events, ",")
	d.ok(ev)
	return h, nil
}

// DeleteWebhook removes a webhook and what it had queued, for an admin.
func (d *Desk) DeleteWebhook(c Caller, id string) error {
	ev := c.event("webhook.delete", id)
	if err := d.webhooksReady(c, ev, true); err != nil {
		return err
	}
	if err := d.cfg.Webhooks.Delete(id); err != nil {
		if errors.Is(err, webhooks.ErrNotFound) {
			return d.refuse(ev, newErr(NotFound, "No such webhook.", err))
		}
		return d.refuse(ev, internal("the webhook could not be deleted", err))
	}
	d.ok(ev)
	return nil
}

// WebhookDeliveries is a webhook's delivery log, newest first, for an
// admin.
func (d *Desk) WebhookDeliveries(c Caller, id string) ([]wire.WebhookDelivery, error) {
	ev := c.event("webhook.deliveries", id)
	if err := d.webhooksReady(c, ev, false); err != nil {
		return nil, err
	}
	l, err := d.cfg.Webhooks.Deliveries(id)
	if errors.Is(err, webhooks.ErrNotFound) {
		return nil, d.refuse(ev, newErr(NotFound, "No such webhook.", err))
	}
	if err != nil {
		return nil, internal("the delivery log could not be read", err)
	}
	return l, nil
}
