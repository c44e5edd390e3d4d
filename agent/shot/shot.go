// Package shot is the screenshot ticket (T5): at a press of the hotkey or
// of "Report a problem" on the end user's page, the agent captures the
// screen (PNG) and the system information, the user adds a description and
// a priority, and a wire.AgentTicket is filed under the logged-on user.
//
// # Filing goes through the outbox
//
// File gives the ticket its ID (32 random hex digits) and puts it in the
// agent's outbox (package outbox) before it returns: from then on it
// survives a crash and a reboot, and it is sent to the coordinator
// (wire.PathAgentTickets, device credentials) when the help desk is
// reachable, by Send, the outbox's sender. Until then Reports says it is
// queued, and the page says so with the shop's contacts. The coordinator
// files an ID once, so a ticket sent again after a crash is not doubled.
//
// # The user it is filed under
//
// On Linux, the owner of the X display's socket (/tmp/.X11-unix/X<n>): the
// user whose session shows the screen that was captured, whoever the agent
// runs as; else $USER. On other systems, $USER or $USERNAME of the agent's
// session, else the account the agent runs as (see User).
package shot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/peerdesk/peerdesk/agent/outbox"
	"github.com/peerdesk/peerdesk/wire"
)

// Kind is the outbox kind of a ticket.
const Kind = "ticket"

// Names of the attachments.
const (
	ScreenshotName = "screenshot.png"
	SystemName     = "system.json"
)

// maxTitle is the length of a title made from the description.
const maxTitle = 80

var (
	// ErrNoDraft is returned by File for a draft that is not (or no
	// longer) pending.
	ErrNoDraft = errors.New("shot: no such report in progress")
	// ErrPriority is returned by File for a priority not in
	// wire.Priorities.
	ErrPriority = errors.New("shot: unknown priority")
	// ErrTooLong is returned by File for a description past
	// wire.MaxTicketText.
	ErrTooLong = errors.New("shot: the description is too long")
)

// Filer files tickets with the coordinator (coordclient.Client).
type Filer interface {
	FileTicket(ctx context.Context, t wire.AgentTicket) (wire.AgentTicketReceipt, error)
}

// Queue is where filed tickets wait to be sent (an *outbox.Outbox).
type Queue interface {
	Put(kind, id string, payload []byte) error
}

// Config configures the service.
type Config struct {
	Queue Queue // required
	Filer Filer // required by Send
	// Screen captures the screen as PNG; nil or failing: the ticket goes
	// without a screenshot, and says why.
	Screen func(ctx context.Context) ([]byte, error)
	// System reads the system information; nil or failing: the ticket
	// goes without it.
	System func(ctx context.Context) (wire.Inventory, error)
	// User names the logged-on user; nil means User("").
	User   func() string
	Now    func() time.Time
	Logger *slog.Logger
}

// Draft is a report captured and not yet filed: what the user sees while
// describing the problem.
type Draft struct {
	ID      string // the ticket's ID once filed
	Taken   time.Time
	PNG     []byte         // the screenshot; nil if it could not be taken
	System  wire.Inventory // zero if it could not be read
	User    string
	Missing []string // what could not be captured, in words
}

// Report is a filed ticket as the page shows it.
type Report struct {
	ID       string
	Title    string
	Priority string
	Filed    time.Time
	Ticket   string // the coordinator's number once it has it; "" while queued
}

// Sent reports whether the coordinator has the ticket.
func (r Report) Sent() bool { return r.Ticket != "" }

// Service takes, holds and files reports.
type Service struct {
	cfg Config

	takeMu sync.Mutex // one capture at a time (a held key repeats)

	mu      sync.Mutex
	draft   *Draft
	reports []Report // this run's, newest last
	changed chan struct{}
}

// maxReports bounds the reports a page lists.
const maxReports = 10

// New returns the service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.User == nil {
		cfg.User = func() string { return User("") }
	}
	return &Service{cfg: cfg, changed: make(chan struct{})}
}

func (s *Service) touch() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Take captures the screen and the system information now and holds them
// as the pending draft, replacing an earlier one. What fails to be
// captured is listed in Draft.Missing; Take itself fails only if no ID can
// be made.
func (s *Service) Take(ctx context.Context) (Draft, error) {
	s.takeMu.Lock()
	defer s.takeMu.Unlock()
	id, err := newID()
	if err != nil {
		return Draft{}, fmt.Errorf("shot.Take: %w", err)
	}
	d := Draft{ID: id, Taken: s.cfg.Now().UTC(), User: s.cfg.User()}
	if s.cfg.Screen == nil {
		d.Missing = append(d.Missing, "the screen (this agent cannot capture it)")
	} else if d.PNG, err = s.cfg.Screen(ctx); err != nil {
		s.cfg.Logger.Warn("capturing the screen for a report", "err", err)
		d.PNG, d.Missing = nil, append(d.Missing, "the screen (it could not be captured)")
	}
	if s.cfg.System == nil {
		d.Missing = append(d.Missing, "the system information")
	} else if d.System, err = s.cfg.System(ctx); err != nil {
		s.cfg.Logger.Warn("reading the system information for a report", "err", err)
		d.System, d.Missing = wire.Inventory{}, append(d.Missing, "the system information (it could not be read)")
	}
	s.mu.Lock()
	s.draft = &d
	s.touch()
	s.mu.Unlock()
	return d, nil
}

// Draft returns the pending draft, if any.
func (s *Service) Draft() (Draft, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draft == nil {
		return Draft{}, false
	}
	return *s.draft, true
}

// Discard drops the pending draft if its ID is id.
func (s *Service) Discard(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draft != nil && s.draft.ID == id {
		s.draft = nil
		s.touch()
	}
}

// Reports returns this run's filed reports, newest first, and a channel
// closed at the next change of them or of the draft.
func (s *Service) Reports() ([]Report, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.reports)
	slices.Reverse(out)
	return out, s.changed
}

// File files the pending draft id with the user's description and
// priority: the ticket is in the outbox, durably, when File returns, and
// is sent when the help desk is reachable. Filing the same draft twice
// files it once.
func (s *Service) File(id, description, priority string) (Report, error) {
	if !slices.Contains(wire.Priorities, priority) {
		return Report{}, fmt.Errorf("%w: %q", ErrPriority, priority)
	}
	// Browsers send a textarea's line breaks as CRLF.
	description = strings.ReplaceAll(strings.TrimSpace(strings.ToValidUTF8(description, "\uFFFD")), "\r\n", "\n")
	if len(description) > wire.MaxTicketText {
		return Report{}, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLong, len(description), wire.MaxTicketText)
	}
	s.mu.Lock()
	d := s.draft
	for _, r := range s.reports {
		if r.ID == id {
			s.mu.Unlock()
			return r, nil
		}
	}
	s.mu.Unlock()
	if d == nil || d.ID != id {
		return Report{}, ErrNoDraft
	}
	t := Ticket(*d, description, priority)
	payload, err := json.Marshal(t)
	if err != nil {
		return Report{}, fmt.Errorf("shot.File: %w", err)
	}
	if err := s.cfg.Queue.Put(Kind, t.ID, payload); err != nil {
		return Report{}, fmt.Errorf("shot.File: %w", err)
	}
	r := Report{ID: t.ID, Title: t.Title, Priority: t.Priority, Filed: s.cfg.Now().UTC()}
	s.mu.Lock()
	if s.draft != nil && s.draft.ID == id {
		s.draft = nil
	}
	s.reports = append(s.reports, r)
	if len(s.reports) > maxReports {
		s.reports = s.reports[len(s.reports)-maxReports:]
	}
	s.touch()
	s.mu.Unlock()
	return r, nil
}

// Ticket makes the ticket a draft files: a title from the description's
// first line, the screenshot and the system information attached.
func Ticket(d Draft, description, priority string) wire.AgentTicket {
	t := wire.AgentTicket{
		ID: d.ID, Title: title(description), Description: description, Priority: priority,
		User: d.User, Created: d.Taken,
	}
	if len(d.Missing) > 0 {
		t.Description = strings.TrimSpace(t.Description + "\n\n(Not attached: " + strings.Join(d.Missing, "; ") + ".)")
	}
	if d.PNG != nil {
		t.Attachments = append(t.Attachments, wire.Attachment{Name: ScreenshotName, Type: "image/png", Data: d.PNG})
	}
	if !d.System.Collected.IsZero() || d.System.Hostname != "" {
		if b, err := json.MarshalIndent(d.System, "", "  "); err == nil {
			t.Attachments = append(t.Attachments, wire.Attachment{Name: SystemName, Type: "application/json", Data: b})
		}
	}
	return t
}

// title is the description's first line, cut to maxTitle characters.
func title(description string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(description), "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return "Problem reported with a screenshot"
	}
	if utf8.RuneCountInString(line) > maxTitle {
		r := []rune(line)
		line = strings.TrimSpace(string(r[:maxTitle-1])) + "…"
	}
	return line
}

// Send sends one queued item to the coordinator: the outbox's sender.
// An item the coordinator refuses as malformed (or that is not a ticket
// this version knows) is final (outbox.Permanent); anything else is
// retried.
func (s *Service) Send(ctx context.Context, it outbox.Item) error {
	if it.Kind != Kind {
		return outbox.Permanent(fmt.Errorf("shot.Send: an item of kind %q", it.Kind))
	}
	var t wire.AgentTicket
	if err := json.Unmarshal(it.Payload, &t); err != nil {
		return outbox.Permanent(fmt.Errorf("shot.Send: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rc, err := s.cfg.Filer.FileTicket(ctx, t)
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) && we.Code == wire.CodeBadRequest {
			return outbox.Permanent(err)
		}
		return err
	}
	s.cfg.Logger.Info("ticket filed", "id", t.ID, "ticket", rc.Ticket, "duplicate", rc.Duplicate)
	s.mu.Lock()
	for i := range s.reports {
		if s.reports[i].ID == t.ID {
			s.reports[i].Ticket = rc.Ticket
			s.touch()
		}
	}
	s.mu.Unlock()
	return nil
}

// newID returns 16 random bytes as 32 lowercase hex digits.
func newID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
