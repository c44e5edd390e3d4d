package wire

import "time"

// Tickets (T6) as agents file them (protocol 2, 2026-12-07). The
// technicians' side of tickets (lists, updates, comments, webhooks) is
// added beside these by the coordinator's tickets package.
const (
	// PathAgentTickets: POST AgentTicket → AgentTicketReceipt, with the
	// device's credentials. Idempotent on AgentTicket.ID: an agent that
	// sends a queued ticket again after a lost answer files it once.
	PathAgentTickets = "/v1/agent/tickets"
)

// Ticket priorities, lowest first.
const (
	PriorityLow    = "low"
	PriorityNormal = "normal"
	PriorityHigh   = "high"
	PriorityUrgent = "urgent"
)

// Priorities lists the priorities in order.
var Priorities = []string{PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent}

// Bounds of what an agent may file.
const (
	MaxTicketTitle       = 200
	MaxTicketText        = 16 << 10 // description, and each chat line
	MaxTicketChat        = 200      // chat lines
	MaxTicketAttachments = 8
	MaxAttachmentSize    = 8 << 20 // bytes of one attachment
)

// AgentTicket is a ticket an agent files for its end user: from the
// screenshot hotkey or button (T5), or from a chat with the assistant
// (T1, the conversation attached so the coordinator can summarise it).
type AgentTicket struct {
	// ID is made by the agent (random, 32 lowercase hex) before the ticket
	// is queued; the coordinator files a given ID once.
	ID          string       `json:"id"`
	Title       string       `json:"title"`
	Description string       `json:"description"`
	Priority    string       `json:"priority"` // one of Priorities
	User        string       `json:"user"`     // the logged-on user it is filed under
	Created     time.Time    `json:"created"`  // when the user filed it (it may arrive later)
	Chat        []ChatLine   `json:"chat,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// ChatLine is one line of a conversation with the assistant.
type ChatLine struct {
	Role string    `json:"role"` // "user", "assistant" or "tool"
	Text string    `json:"text"`
	Time time.Time `json:"time"`
}

// Attachment is a file attached to a ticket: a screenshot (image/png),
// diagnostics (application/json), …
type Attachment struct {
	Name string `json:"name"`
	Type string `json:"type"` // a MIME type
	Data []byte `json:"data"`
}

// AgentTicketReceipt answers a filed ticket.
type AgentTicketReceipt struct {
	Ticket string `json:"ticket"` // the coordinator's ticket number, e.g. "T-1042"
	// Duplicate is set when the ID had been filed before (the receipt is
	// that ticket's).
	Duplicate bool `json:"duplicate,omitempty"`
}
