package wire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The presence stream's answer body carries messages from the coordinator
// to the agent: newline-delimited JSON PresenceMessage values, one per
// line, each at most MaxPresenceMessage bytes. Blank lines are allowed
// (a keep-alive carries nothing). An agent ignores a message whose type it
// does not know, so new types can be added without breaking older agents;
// agents from before this change never read the body at all.

// Presence message types.
const (
	// PresenceRevoke: a technician (or some of their overlay nodes) lost
	// their access. The agent ends their live sessions whose grants were
	// issued at or before At, and refuses such grants from then on.
	PresenceRevoke = "revoke"
	// PresenceConsentRules: which capabilities need the end user's answer
	// on this device (Ask), as the shop's consent rules decide for the
	// company it is filed under and its id; or, with NoRules, that the
	// shop has none, so the agent's own default applies. Sent when the
	// stream opens and whenever the rules (or the device's company)
	// change; the latest one received is in force.
	PresenceConsentRules = "consent-rules"
)

// Presence message limits.
const (
	MaxPresenceMessage  = 8 << 10 // bytes in one line, newline excluded
	MaxPresenceNodeKeys = 64      // node keys in one revoke message
	MaxPresenceReason   = 256     // bytes of a message's reason
	MaxPresenceAsk      = 32      // capabilities in one consent-rules message
)

// PresenceMessage is one message the coordinator sends down an agent's
// presence stream.
type PresenceMessage struct {
	Type string `json:"type"` // PresenceRevoke or PresenceConsentRules; other types are ignored by this version
	// Technician whose access is revoked; empty when only NodeKeys are.
	Technician string `json:"technician,omitempty"`
	// NodeKeys are technician nodes ("nodekey:<64 hex>") whose grants
	// are void, whoever they were issued to.
	NodeKeys []string `json:"node_keys,omitempty"`
	// Reason is why, for the agent's audit trail and the end user's
	// page: "disabled", "deleted", "sessions ended", "node removed".
	Reason string `json:"reason,omitempty"`
	// At is the revocation time on the coordinator's clock, the clock
	// that stamps grants: grants issued at or before it are void.
	At time.Time `json:"at"`
	// Ask (PresenceConsentRules) lists the capabilities that need the
	// end user's answer on this device; empty asks about nothing. A
	// capability this version does not know may be listed (a later
	// coordinator's): it is well formed, and the agent serves no such
	// capability anyway.
	Ask []Capability `json:"ask,omitempty"`
	// NoRules (PresenceConsentRules) says the shop has no consent rules:
	// the agent's own default applies. Ask is then empty.
	NoRules bool `json:"no_rules,omitempty"`
}

// knownPresenceType reports whether this version acts on messages of
// type t.
func knownPresenceType(t string) bool { return t == PresenceRevoke || t == PresenceConsentRules }

// ErrBadPresenceMessage is wrapped by PresenceMessage.Check and by
// PresenceDecoder.Next for a line that is not a valid message.
var ErrBadPresenceMessage = errors.New("wire: invalid presence message")

// Check validates a message of a type this version knows; a message of
// another type passes (it is ignored, not refused).
func (m PresenceMessage) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadPresenceMessage, fmt.Sprintf(format, args...))
	}
	switch m.Type {
	case PresenceRevoke:
	case PresenceConsentRules:
		return m.checkConsentRules(bad)
	default:
		return nil
	}
	if m.Technician == "" && len(m.NodeKeys) == 0 {
		return bad("a revoke names a technician or node keys")
	}
	if m.Technician != "" {
		if err := CheckName(m.Technician); err != nil {
			return bad("technician: %v", err)
		}
	}
	if len(m.NodeKeys) > MaxPresenceNodeKeys {
		return bad("%d node keys, at most %d", len(m.NodeKeys), MaxPresenceNodeKeys)
	}
	for _, k := range m.NodeKeys {
		if !ValidNodeKey(k) {
			return bad("node key %.80q is not nodekey:<64 hex digits>", k)
		}
	}
	if len(m.Reason) > MaxPresenceReason || !utf8.ValidString(m.Reason) || strings.ContainsFunc(m.Reason, unicode.IsControl) {
		return bad("reason: at most %d bytes of text without control characters", MaxPresenceReason)
	}
	if m.At.IsZero() || m.At.Year() < 2000 || m.At.Year() > 9999 {
		return bad("a revoke carries its time")
	}
	return nil
}

// checkConsentRules checks a PresenceConsentRules message: at most
// MaxPresenceAsk well-formed capability names without repeats, none with
// NoRules, and no fields of a revoke.
func (m PresenceMessage) checkConsentRules(bad func(string, ...any) error) error {
	if m.Technician != "" || len(m.NodeKeys) > 0 || m.Reason != "" {
		return bad("a consent-rules message names no technician, node keys or reason")
	}
	if m.NoRules && len(m.Ask) > 0 {
		return bad("a consent-rules message with no_rules asks about nothing")
	}
	if len(m.Ask) > MaxPresenceAsk {
		return bad("%d capabilities, at most %d", len(m.Ask), MaxPresenceAsk)
	}
	for i, c := range m.Ask {
		if !wellFormedCapability(c) {
			return bad("capability %.40q is not 1 to 32 of [a-z0-9-]", c)
		}
		for _, d := range m.Ask[:i] {
			if d == c {
				return bad("capability %q listed twice", c)
			}
		}
	}
	return nil
}

// wellFormedCapability reports whether c could name a capability of this
// or a later protocol version: 1 to 32 of [a-z0-9-].
func wellFormedCapability(c Capability) bool {
	return len(c) >= 1 && len(c) <= 32 && !strings.ContainsFunc(string(c), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-')
	})
}

// ValidNodeKey reports whether s is a WireGuard node key as the overlay
// writes it: "nodekey:" and 64 lower-case hex digits.
func ValidNodeKey(s string) bool {
	h, ok := strings.CutPrefix(s, "nodekey:")
	if !ok || len(h) != 64 || strings.ToLower(h) != h {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// EncodePresenceMessage checks m and encodes it as one line, newline
// included.
func EncodePresenceMessage(m PresenceMessage) ([]byte, error) {
	if m.Type == "" {
		return nil, fmt.Errorf("%w: no type", ErrBadPresenceMessage)
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("wire: presence message: %w", err)
	}
	if len(b) > MaxPresenceMessage {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrBadPresenceMessage, len(b), MaxPresenceMessage)
	}
	return append(b, '\n'), nil
}

// PresenceDecoder reads the messages of a presence stream's answer body.
// It holds at most MaxPresenceMessage bytes of a line, however long the
// line is.
type PresenceDecoder struct {
	r *bufio.Reader
}

// NewPresenceDecoder reads messages from r.
func NewPresenceDecoder(r io.Reader) *PresenceDecoder {
	return &PresenceDecoder{r: bufio.NewReaderSize(r, 4096)}
}

// Next returns the next message of a type this version knows, skipping
// blank lines and messages of other types. A line that is too long, not
// one JSON object with a type, or a known type that fails Check returns an
// error wrapping ErrBadPresenceMessage: the line is consumed and the
// decoder may be used again. Any other error (io.EOF at the end of the
// stream) is the reader's, and ends the stream.
func (d *PresenceDecoder) Next() (PresenceMessage, error) {
	for {
		line, err := d.line()
		if err != nil {
			return PresenceMessage{}, err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		m, known, err := parsePresenceLine(line)
		if err != nil {
			return PresenceMessage{}, err
		}
		if known {
			return m, nil
		}
	}
}

// line reads one line without its newline. A line longer than
// MaxPresenceMessage is read to its end, dropped, and reported.
func (d *PresenceDecoder) line() ([]byte, error) {
	return readBoundedLine(d.r, MaxPresenceMessage, ErrBadPresenceMessage)
}

// readBoundedLine reads one line of r without its newline, holding at
// most max bytes of it: a longer line is read to its end, dropped, and
// reported as an error wrapping bad. A last line without its newline is
// io.ErrUnexpectedEOF (the stream was cut mid-message); any other error is
// the reader's.
func readBoundedLine(r *bufio.Reader, max int, bad error) ([]byte, error) {
	var buf []byte
	long := false
	for {
		chunk, err := r.ReadSlice('\n')
		switch {
		case long:
		case len(buf)+len(chunk) > max+1: // +1: the newline
			long, buf = true, nil
		default:
			buf = append(buf, chunk...)
		}
		switch {
		case err == nil:
			if long {
				return nil, fmt.Errorf("%w: a line longer than %d bytes", bad, max)
			}
			return buf[:len(buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0 && !long:
			// A last line without its newline: the stream was cut
			// mid-message; what arrived is not trusted to be whole.
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

// parsePresenceLine decodes one line; known is false for a well-formed
// message of a type this version does not know.
func parsePresenceLine(line []byte) (m PresenceMessage, known bool, err error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(line, &head); err != nil {
		return m, false, fmt.Errorf("%w: %v", ErrBadPresenceMessage, err)
	}
	if head.Type == "" {
		return m, false, fmt.Errorf("%w: no type", ErrBadPresenceMessage)
	}
	if !knownPresenceType(head.Type) {
		return m, false, nil // a later version's message: ignored
	}
	// Fields a later version adds to a known type are ignored.
	if err := json.Unmarshal(line, &m); err != nil {
		return PresenceMessage{}, false, fmt.Errorf("%w: %v", ErrBadPresenceMessage, err)
	}
	if len(m.Ask) == 0 {
		m.Ask = nil // "ask":[] and no "ask" say the same
	}
	if err := m.Check(); err != nil {
		return PresenceMessage{}, false, err
	}
	return m, true, nil
}
