package wire

// PathConnectRedeem is where a viewer exchanges a connect ticket: POST
// ConnectRedeemRequest → ConnectTarget (technician). The ticket was minted
// by the coordinator when the same technician clicked Connect on the
// dashboard; it works once and for ConnectTicketSeconds.
const PathConnectRedeem = "/v1/connect/redeem"

// ConnectTicketSeconds is how long a connect ticket stays good.
const ConnectTicketSeconds = 60

// MaxConnectTicket bounds a connect ticket's length: tickets are 64 hex
// digits.
const MaxConnectTicket = 128

// ConnectRedeemRequest carries a connect ticket from the dashboard's link.
type ConnectRedeemRequest struct {
	Ticket string `json:"ticket"`
}

// ConnectTarget is what a connect ticket opens: a support session or a
// machine (exactly one of them).
type ConnectTarget struct {
	Session string `json:"session,omitempty"`
	Device  string `json:"device,omitempty"`
}
