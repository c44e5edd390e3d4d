package agentui

// ChatView is the chat page with the help desk assistant.
type ChatView struct {
	Base     string // the page's path prefix
	Product  string
	Name     string     // the assistant's persona name (wire.AssistPersona)
	Lines    []ChatLine // the conversation so far, oldest first
	Contacts string     // the shop's contacts, in words; "" if none
}

// ChatLine is one message of the conversation.
type ChatLine struct {
	Mine bool // the user's; else the assistant's
	Text string
}
