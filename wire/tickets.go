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

// The technicians' side of tickets (T6, 2026-12-07): the JSON API over
// the coordinator's tickets, usable with a session token or an API key.
const (
	// PathTickets: GET lists (query: status, priority, assignee, company,
	// device, q, limit) → TicketList; POST TicketCreate → Ticket.
	PathTickets = "/v1/tickets"
	// PathTickets + "/{number}": GET → Ticket (with comments and chat);
	// PATCH TicketUpdate → Ticket. "/{number}/comments": POST
	// TicketComment → Ticket. "/{number}/attachments": POST Attachment →
	// Ticket. "/{number}/attachments/{index}": GET → the bytes.
	// PathWebhooks: GET → []Webhook; POST WebhookCreate → Webhook (with
	// its secret, shown once); "/{id}/delete": POST; "/{id}/deliveries":
	// GET → []WebhookDelivery. Admins only.
	PathWebhooks = "/v1/webhooks"
)

// Ticket statuses, in the order a ticket usually moves.
const (
	StatusOpen       = "open"
	StatusInProgress = "in_progress"
	StatusWaiting    = "waiting_on_user"
	StatusResolved   = "resolved"
	StatusClosed     = "closed"
)

// Statuses lists the ticket statuses in order.
var Statuses = []string{StatusOpen, StatusInProgress, StatusWaiting, StatusResolved, StatusClosed}

// Summary states of a ticket opened from a chat.
const (
	SummaryNone    = ""        // no chat to summarise
	SummaryPending = "pending" // the model has not answered yet; retried
	SummaryDone    = "done"
)

// More bounds of tickets.
const (
	MaxTicketComments = 1000
	MaxTicketSessions = 32
	MaxTicketBody     = 96 << 20 // bytes of a POST to PathAgentTickets (attachments base64-encoded)
	MaxTicketList     = 500      // tickets in one list answer
	MaxSummary        = 2000     // bytes of an AI summary
	MaxWebhooks       = 32
	MaxWebhookURL     = 2048
)

// Ticket is a ticket as technicians see it.
type Ticket struct {
	Number      string           `json:"number"` // "T-1042"
	Title       string           `json:"title"`
	Description string           `json:"description"`
	Status      string           `json:"status"`
	Priority    string           `json:"priority"`
	Assignee    string           `json:"assignee,omitempty"`
	Company     string           `json:"company,omitempty"`
	Device      string           `json:"device,omitempty"` // device id
	DeviceName  string           `json:"device_name,omitempty"`
	User        string           `json:"user,omitempty"` // the end user it is filed under
	Source      string           `json:"source"`         // "agent" or "technician"
	Created     time.Time        `json:"created"`
	Updated     time.Time        `json:"updated"`
	Summary     string           `json:"summary,omitempty"`
	SummaryAt   string           `json:"summary_state,omitempty"` // SummaryPending or SummaryDone
	Sessions    []string         `json:"sessions,omitempty"`      // support sessions linked
	Attachments []AttachmentInfo `json:"attachments,omitempty"`
	Comments    []TicketComment  `json:"comments,omitempty"` // in Get, not in lists
	Chat        []ChatLine       `json:"chat,omitempty"`     // in Get, not in lists
	Version     int              `json:"version"`            // counts changes
}

// AttachmentInfo describes an attachment without its bytes.
type AttachmentInfo struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	Type  string `json:"type"`
	Size  int    `json:"size"`
}

// TicketComment is a technician's comment on a ticket.
type TicketComment struct {
	Author string    `json:"author,omitempty"` // set by the coordinator
	Text   string    `json:"text"`
	Time   time.Time `json:"time,omitzero"`
}

// TicketList answers a list or search.
type TicketList struct {
	Tickets []Ticket `json:"tickets"`
	Total   int      `json:"total"` // matches, of which at most the limit are listed
}

// TicketCreate is a ticket a technician (or an integration) files.
type TicketCreate struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Priority    string `json:"priority,omitempty"` // default normal
	Company     string `json:"company,omitempty"`
	Device      string `json:"device,omitempty"`
	Assignee    string `json:"assignee,omitempty"`
}

// TicketUpdate changes the fields that are set; Assignee "-" unassigns.
type TicketUpdate struct {
	Status   string `json:"status,omitempty"`
	Priority string `json:"priority,omitempty"`
	Assignee string `json:"assignee,omitempty"`
	Title    string `json:"title,omitempty"`
	Session  string `json:"session,omitempty"` // a support session to link
}

// Webhook events.
const (
	EventTicketCreated   = "ticket.created"
	EventTicketUpdated   = "ticket.updated"
	EventTicketCommented = "ticket.commented"
	EventTicketSummary   = "ticket.summarised"
)

// WebhookEvents lists the events a webhook may subscribe to.
var WebhookEvents = []string{EventTicketCreated, EventTicketUpdated, EventTicketCommented, EventTicketSummary}

// Webhook delivery headers. The signature is "sha256=" and the hex
// HMAC-SHA256, under the webhook's secret, of the timestamp header's
// value, a '.', and the body.
const (
	HeaderWebhookEvent     = "X-Peerdesk-Event"
	HeaderWebhookDelivery  = "X-Peerdesk-Delivery"
	HeaderWebhookTimestamp = "X-Peerdesk-Timestamp" // unix seconds
	HeaderWebhookSignature = "X-Peerdesk-Signature"
)

// Webhook is an outgoing webhook for a PSA.
type Webhook struct {
	ID      string    `json:"id"`
	URL     string    `json:"url"`
	Events  []string  `json:"events"`
	Secret  string    `json:"secret,omitempty"` // only when created
	Created time.Time `json:"created"`
}

// WebhookCreate configures a webhook; an empty Secret gets a random one.
type WebhookCreate struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
	Secret string   `json:"secret,omitempty"`
}

// WebhookPayload is the body of a delivery.
type WebhookPayload struct {
	Event  string    `json:"event"`
	Time   time.Time `json:"time"`
	Ticket Ticket    `json:"ticket"`
	Actor  string    `json:"actor,omitempty"`
}

// WebhookDelivery is one attempt of the delivery log.
type WebhookDelivery struct {
	Delivery string    `json:"delivery"`
	Event    string    `json:"event"`
	Attempt  int       `json:"attempt"`
	Time     time.Time `json:"time"`
	Status   int       `json:"status,omitempty"` // the receiver's HTTP status
	Error    string    `json:"error,omitempty"`
	Outcome  string    `json:"outcome"` // "delivered", "retry", "gave-up"
}
