package tickets

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/peerdesk/peerdesk/wire"
)

// CheckAgentTicket bounds what an agent files.
func CheckAgentTicket(t wire.AgentTicket) error {
	if len(t.ID) != 32 || strings.Trim(t.ID, "0123456789abcdef") != "" {
		return fmt.Errorf("%w: the id must be 32 lowercase hex digits", ErrInvalid)
	}
	if err := checkTitle(t.Title); err != nil {
		return err
	}
	if err := checkText("description", t.Description); err != nil {
		return err
	}
	if !slices.Contains(wire.Priorities, t.Priority) {
		return fmt.Errorf("%w: unknown priority %q", ErrInvalid, t.Priority)
	}
	if len(t.User) > maxUser || !printable(t.User) {
		return fmt.Errorf("%w: the user name is too long or not printable", ErrInvalid)
	}
	if len(t.Chat) > wire.MaxTicketChat {
		return fmt.Errorf("%w: more than %d chat lines", ErrInvalid, wire.MaxTicketChat)
	}
	for i, l := range t.Chat {
		if l.Role != "user" && l.Role != "assistant" && l.Role != "tool" {
			return fmt.Errorf("%w: chat line %d: role %q", ErrInvalid, i, l.Role)
		}
		if err := checkText("chat line", l.Text); err != nil {
			return err
		}
	}
	if len(t.Attachments) > wire.MaxTicketAttachments {
		return fmt.Errorf("%w: more than %d attachments", ErrInvalid, wire.MaxTicketAttachments)
	}
	for _, a := range t.Attachments {
		if err := CheckAttachment(a); err != nil {
			return err
		}
	}
	return nil
}

// CheckAttachment bounds an attachment: a plain name, a type of
// AttachmentTypes that its bytes agree with, 1..wire.MaxAttachmentSize
// bytes.
func CheckAttachment(a wire.Attachment) error {
	if a.Name == "" || len(a.Name) > maxAName || !printable(a.Name) || strings.ContainsAny(a.Name, `/\`) {
		return fmt.Errorf("%w: attachment name %.40q", ErrInvalid, a.Name)
	}
	if !slices.Contains(AttachmentTypes, a.Type) {
		return fmt.Errorf("%w: attachment type %.40q is not one of %s", ErrInvalid, a.Type, strings.Join(AttachmentTypes, ", "))
	}
	if len(a.Data) == 0 || len(a.Data) > wire.MaxAttachmentSize {
		return fmt.Errorf("%w: an attachment must hold 1..%d bytes", ErrInvalid, wire.MaxAttachmentSize)
	}
	if strings.HasPrefix(a.Type, "image/") && http.DetectContentType(a.Data) != a.Type {
		return fmt.Errorf("%w: attachment %.40q is not a %s image", ErrInvalid, a.Name, a.Type)
	}
	if !strings.HasPrefix(a.Type, "image/") && !utf8.Valid(a.Data) {
		return fmt.Errorf("%w: attachment %.40q is not text", ErrInvalid, a.Name)
	}
	return nil
}

func checkTitle(s string) error {
	if strings.TrimSpace(s) == "" || len(s) > wire.MaxTicketTitle || !printable(s) {
		return fmt.Errorf("%w: a title is 1..%d printable bytes", ErrInvalid, wire.MaxTicketTitle)
	}
	return nil
}

func checkText(what, s string) error {
	if len(s) > wire.MaxTicketText || !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return fmt.Errorf("%w: a %s is at most %d bytes of text", ErrInvalid, what, wire.MaxTicketText)
	}
	return nil
}

// printable accepts valid UTF-8 without control characters but the tab
// (a no-break space or a tab pasted into a title is no reason to refuse a
// user's ticket, which an agent would then drop as malformed).
func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return r != '\t' && unicode.IsControl(r) }) < 0
}
