package dashboard

// TabTickets is the Tickets tab.
const TabTickets = "tickets"

// TicketFilter is the Tickets tab's filter, as the form sent it.
type TicketFilter struct {
	Status, Priority, Assignee, Company, Device, Q string
}

// TicketsView is the Tickets tab: the filter, the list (live) and, for
// those who work tickets, the form to file one.
type TicketsView struct {
	Nav        Nav
	CSRF       string
	Filter     TicketFilter
	Statuses   []Choice
	Priorities []Choice
	List       TicketListView
	Events     string // the live stream's URL, with the filter
	Version    string // of List's rendering
	CanWork    bool
	Webhooks   bool // the account configures webhooks
	Notice     string
	Error      string
}

// Choice is one option of a select.
type Choice struct {
	Value, Label string
	Selected     bool
}

// TicketListView is the live part of the Tickets tab.
type TicketListView struct {
	Rows  []TicketRow
	Total int // tickets that match; Rows holds the newest of them
}

// TicketRow is one ticket of the list.
type TicketRow struct {
	Number, URL, Title, Status, Priority, Assignee, Company, Device, User, Updated, Summary string
}

// TicketView is a ticket's page: its details (live) and the forms.
type TicketView struct {
	Nav        Nav
	CSRF       string
	Number     string
	Body       TicketBodyView
	Events     string
	Version    string
	CanWork    bool
	Statuses   []Choice
	Priorities []Choice
	Assignee   string
	ConnectURL string // "Open a support session": "" without a device
	Notice     string
	Error      string
}

// TicketBodyView is the live part of a ticket's page.
type TicketBodyView struct {
	Number, Title, Description, Status, Priority, Assignee, Company, User, Source, Created, Updated string
	Device, DeviceName, DeviceURL                                                                   string
	Summary, SummaryState                                                                           string
	Sessions                                                                                        []string
	Chat                                                                                            []ChatRow
	Comments                                                                                        []CommentRow
	Attachments                                                                                     []AttachmentRow
	Version                                                                                         int
}

// ChatRow is one line of the chat a ticket was opened from.
type ChatRow struct{ Role, Text, Time string }

// CommentRow is one comment.
type CommentRow struct{ Author, Text, Time string }

// AttachmentRow is one attachment: images are shown inline.
type AttachmentRow struct {
	Name, Type, Size, URL string
	Image                 bool
}

// WebhooksView is the admins' webhooks page with each one's delivery log.
type WebhooksView struct {
	Nav     Nav
	CSRF    string
	Events  []string
	Hooks   []WebhookRow
	Created *CreatedWebhook // shown once, after the form
	Error   string
}

// CreatedWebhook is a webhook just configured, with its secret.
type CreatedWebhook struct{ ID, URL, Secret string }

// WebhookRow is one webhook and its recent deliveries.
type WebhookRow struct {
	ID, URL, Events, Created string
	Deliveries               []DeliveryRow
}

// DeliveryRow is one attempt of a delivery.
type DeliveryRow struct {
	Delivery, Event, Time, Status, Outcome, Error string
	Attempt                                       int
}
