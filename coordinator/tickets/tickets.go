// Package tickets keeps the help desk's tickets (T6) in the coordinator's
// store: what agents file for their end users (wire.AgentTicket, from the
// screenshot hotkey or a chat with the assistant) and what technicians
// file, with status, priority, assignment, comments, attachments, the
// chat a ticket was opened from, its AI summary, and the device and
// support sessions it concerns.
//
// # Overview
//
// A Store is the one writer of the ticket records. Every write is a
// synchronous Badger transaction (package store), so a ticket, comment,
// attachment or change acknowledged to its author survives a crash. A
// ticket's header — everything but its comments, chat lines and
// attachment bytes — is one record; each comment and chat line is a
// record of its own, and each attachment is kept in chunks below
// store.MaxValue, so every field is bounded and no record or transaction
// grows with the ticket. An agent's ticket is filed once per (device,
// AgentTicket.ID): its chat lines and attachment chunks are written under
// keys derived from that pair first, and the header, its number and the
// idempotency key last, in one transaction that is the commit point; a
// crash before it leaves only records the agent's retry overwrites.
//
// The Store keeps every ticket's header in memory, with a lower-cased
// text to search, loaded once at Open: lists and searches read memory,
// not the disk, and take a few milliseconds with 10,000 tickets (see
// BenchmarkList). Changed wakes those waiting for any change, so the
// dashboard's Tickets tab is pushed rather than polled.
//
// It only stores: who may read or change a ticket, the audit trail and
// the webhooks are package desk's. The AI summary is written by a
// Summarizer (summary.go) that asks the shop's model through package
// triage and retries while the model is unavailable.
package tickets

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/wire"
)

// Namespaces of the store.
const (
	nsTicket  = "ticket"        // key → record
	nsNumber  = "ticketno"      // number → key
	nsComment = "ticketcmt"     // key/%06d → wire.TicketComment
	nsChat    = "ticketchat"    // key/%04d → wire.ChatLine
	nsBlob    = "ticketblob"    // key/%02d/%04d → chunk
	nsSeq     = "ticketseq"     // "n" → the last number given
	chunk     = 512 << 10       // bytes of an attachment chunk (base64 in JSON: 683 KiB < store.MaxValue)
	firstNum  = 1000            // the first ticket is T-1001
	maxSearch = 4 << 10         // bytes of a ticket's searchable text kept in memory
	maxUser   = 128             // bytes of the end user's name (DOMAIN\user)
	maxAName  = 128             // bytes of an attachment's name
	chatBatch = 48              // chat lines per transaction (48 × 16 KiB < Badger's batch limit)
	prefix    = "T-"            // of ticket numbers
	srcAgent  = "agent"         // Ticket.Source
	srcTech   = "technician"    // Ticket.Source
	unassign  = "-"             // TicketUpdate.Assignee that unassigns
	maxQuery  = 256             // bytes of a search text
	maxID     = 64              // bytes of a device or session id
	maxAssign = wire.MaxNameLen // bytes of an assignee
)

// Errors; test with errors.Is.
var (
	ErrNotFound = errors.New("tickets: no such ticket")
	ErrInvalid  = errors.New("tickets: invalid")
	ErrFull     = errors.New("tickets: the ticket holds all it may")
)

// AttachmentTypes are the MIME types an attachment may have; images are
// shown inline on the ticket page.
var AttachmentTypes = []string{"image/png", "image/jpeg", "application/json", "text/plain"}

// Device is the device a ticket concerns, as the coordinator files it
// (its company is the registry's, never the agent's claim).
type Device struct {
	ID, Name, Company string
}

// record is a stored ticket header.
type record struct {
	wire.Ticket
	Key       string `json:"key"`
	Num       int    `json:"num"`
	NComments int    `json:"ncomments"`
	NChat     int    `json:"nchat"`
	// Tries counts the summary attempts that failed.
	Tries int `json:"tries,omitempty"`
}

// entry is a ticket in memory: its header and its search text.
type entry struct {
	rec        record
	text, tail string // the header's and the comments' search text, lower case
}

// Store keeps the tickets. Its methods are safe for concurrent use.
type Store struct {
	db  store.DB
	now func() time.Time

	wmu sync.Mutex // orders the writes: each reads a header, then writes it

	mu      sync.RWMutex
	byNum   map[int]*entry
	nums    []int // ascending
	changed chan struct{}
}

// Open loads the tickets of db into memory and returns their Store; now
// stamps changes (nil means time.Now).
func Open(db store.DB, now func() time.Time) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	s := &Store{db: db, now: now, byNum: map[int]*entry{}, changed: make(chan struct{})}
	byKey := map[string]*entry{}
	err := db.View(func(tx store.Tx) error {
		err := tx.Scan(nsTicket, "", func(_ string, v []byte) error {
			var r record
			if err := store.Decode(v, &r); err != nil {
				return err
			}
			e := &entry{rec: r, text: searchText(r)}
			s.byNum[r.Num], byKey[r.Key] = e, e
			s.nums = append(s.nums, r.Num)
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Scan(nsComment, "", func(k string, v []byte) error {
			e := byKey[k[:strings.IndexByte(k+"/", '/')]]
			if e == nil || len(e.tail) >= maxSearch {
				return nil // a comment of a ticket never committed, or enough
			}
			var c wire.TicketComment
			if err := store.Decode(v, &c); err != nil {
				return err
			}
			e.tail = grow(e.tail, c.Text)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("tickets.Open: %w", err)
	}
	slices.Sort(s.nums)
	return s, nil
}

// Changed returns a channel closed at the next change of any ticket. Take
// it before reading, so no change is missed.
func (s *Store) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

// put makes r the ticket's header in memory, its comments' search text
// grown by comment (if any), and wakes the waiters.
func (s *Store) put(r record, comment string) {
	s.mu.Lock()
	e, ok := s.byNum[r.Num]
	if !ok {
		e = &entry{}
		s.byNum[r.Num] = e
		s.nums = append(s.nums, r.Num)
		if n := len(s.nums); n > 1 && s.nums[n-2] > r.Num {
			slices.Sort(s.nums)
		}
	}
	e.rec, e.text = r, searchText(r)
	e.tail = grow(e.tail, comment)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// searchText is what a search looks in, besides the comments: the
// number, title, user, device, assignee, company and the start of the
// description.
func searchText(r record) string {
	var b strings.Builder
	for _, f := range []string{r.Number, r.Title, r.User, r.DeviceName, r.Device, r.Assignee, r.Company, r.Description} {
		b.WriteString(f)
		b.WriteByte('\n')
	}
	return bound(strings.ToLower(b.String()))
}

// grow appends a comment's text to the comments' search text, bounded.
func grow(tail, comment string) string {
	if comment == "" || len(tail) >= maxSearch {
		return tail
	}
	return bound(tail + strings.ToLower(comment) + "\n")
}

func bound(t string) string {
	if len(t) > maxSearch {
		return strings.ToValidUTF8(t[:maxSearch], "")
	}
	return t
}

// Number parses a ticket number ("T-1042").
func Number(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, prefix))
	return n, err == nil && strings.HasPrefix(s, prefix) && n > firstNum && len(s) < 16
}

func numberOf(n int) string { return prefix + strconv.Itoa(n) }

// Header returns a ticket's header (no comments or chat) from memory.
func (s *Store) Header(number string) (wire.Ticket, error) {
	r, err := s.header(number)
	return r.Ticket, err
}

func (s *Store) header(number string) (record, error) {
	n, ok := Number(number)
	if !ok {
		return record{}, ErrNotFound
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.byNum[n]
	if !ok {
		return record{}, ErrNotFound
	}
	return e.rec, nil
}

// Get returns a ticket with its comments and chat.
func (s *Store) Get(number string) (wire.Ticket, error) {
	r, err := s.header(number)
	if err != nil {
		return wire.Ticket{}, err
	}
	t := r.Ticket
	err = s.db.View(func(tx store.Tx) error {
		if err := tx.Scan(nsComment, r.Key+"/", func(_ string, v []byte) error {
			var c wire.TicketComment
			if err := store.Decode(v, &c); err != nil {
				return err
			}
			t.Comments = append(t.Comments, c)
			return nil
		}); err != nil {
			return err
		}
		return tx.Scan(nsChat, r.Key+"/", func(_ string, v []byte) error {
			var l wire.ChatLine
			if err := store.Decode(v, &l); err != nil {
				return err
			}
			t.Chat = append(t.Chat, l)
			return nil
		})
	})
	if err != nil {
		return wire.Ticket{}, fmt.Errorf("tickets.Get: %w", err)
	}
	return t, nil
}

// Query filters a list; empty fields match everything.
type Query struct {
	Status, Priority, Assignee, Company, Device string
	Text                                        string // a case-insensitive substring of the searchable text
	Limit                                       int    // 0 or more than wire.MaxTicketList means wire.MaxTicketList
}

// Check bounds q.
func (q Query) Check() error {
	switch {
	case q.Status != "" && !slices.Contains(wire.Statuses, q.Status):
		return fmt.Errorf("%w: unknown status %q", ErrInvalid, q.Status)
	case q.Priority != "" && !slices.Contains(wire.Priorities, q.Priority):
		return fmt.Errorf("%w: unknown priority %q", ErrInvalid, q.Priority)
	case len(q.Text) > maxQuery || len(q.Assignee) > maxAssign || len(q.Company) > maxID || len(q.Device) > maxID:
		return fmt.Errorf("%w: the search is too long", ErrInvalid)
	case q.Limit < 0:
		return fmt.Errorf("%w: negative limit", ErrInvalid)
	}
	return nil
}

// List returns the tickets that match q and that visible accepts (by
// company; nil accepts all), newest first, with how many matched.
func (s *Store) List(q Query, visible func(company string) bool) (wire.TicketList, error) {
	if err := q.Check(); err != nil {
		return wire.TicketList{}, err
	}
	limit := q.Limit
	if limit == 0 || limit > wire.MaxTicketList {
		limit = wire.MaxTicketList
	}
	text := strings.ToLower(q.Text)
	out := wire.TicketList{Tickets: []wire.Ticket{}}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := len(s.nums) - 1; i >= 0; i-- {
		e := s.byNum[s.nums[i]]
		t := &e.rec.Ticket
		if q.Status != "" && t.Status != q.Status || q.Priority != "" && t.Priority != q.Priority ||
			q.Assignee != "" && t.Assignee != q.Assignee || q.Company != "" && t.Company != q.Company ||
			q.Device != "" && t.Device != q.Device || text != "" && !strings.Contains(e.text, text) && !strings.Contains(e.tail, text) ||
			visible != nil && !visible(t.Company) {
			continue
		}
		out.Total++
		if len(out.Tickets) < limit {
			out.Tickets = append(out.Tickets, *t)
		}
	}
	return out, nil
}

// Pending returns the numbers of the tickets whose summary is pending,
// oldest first.
func (s *Store) Pending() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for _, n := range s.nums {
		if s.byNum[n].rec.SummaryAt == wire.SummaryPending {
			out = append(out, numberOf(n))
		}
	}
	return out
}

// keyOf is the storage key of an agent's ticket: its device and its ID,
// so one device cannot file under, or learn of, another's ID.
func keyOf(device, id string) string {
	h := sha256.Sum256([]byte(device + "\x00" + id))
	return hex.EncodeToString(h[:16])
}

func randomKey() string {
	b := make([]byte, 16)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// FileAgent files an agent's ticket for dev, once per (dev.ID, t.ID): a
// second filing returns the first one's ticket and dup true. A ticket with
// a chat is filed with its summary pending.
func (s *Store) FileAgent(dev Device, t wire.AgentTicket) (ticket wire.Ticket, dup bool, err error) {
	if err := CheckAgentTicket(t); err != nil {
		return wire.Ticket{}, false, err
	}
	key := keyOf(dev.ID, t.ID)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if r, ok, err := s.byKey(key); err != nil || ok {
		return r.Ticket, ok, err
	}
	// The parts first, each transaction bounded; the header last.
	for i := 0; i < len(t.Chat); i += chatBatch {
		err := s.db.Update(func(tx store.Tx) error {
			for j := i; j < min(i+chatBatch, len(t.Chat)); j++ {
				if err := tx.Put(nsChat, fmt.Sprintf("%s/%04d", key, j), t.Chat[j]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return wire.Ticket{}, false, fmt.Errorf("tickets.FileAgent: chat: %w", err)
		}
	}
	now := s.now().UTC()
	r := record{Key: key, NChat: len(t.Chat), Ticket: wire.Ticket{
		Title: t.Title, Description: t.Description, Status: wire.StatusOpen, Priority: t.Priority,
		Company: dev.Company, Device: dev.ID, DeviceName: dev.Name, User: t.User, Source: srcAgent,
		Created: t.Created.UTC(), Updated: now,
	}}
	if r.Created.IsZero() || r.Created.After(now) {
		r.Created = now
	}
	if len(t.Chat) > 0 {
		r.SummaryAt = wire.SummaryPending
	}
	for i, a := range t.Attachments {
		info, err := s.writeBlob(key, i, a)
		if err != nil {
			return wire.Ticket{}, false, fmt.Errorf("tickets.FileAgent: %w", err)
		}
		r.Attachments = append(r.Attachments, info)
	}
	if err := s.insert(&r); err != nil {
		return wire.Ticket{}, false, fmt.Errorf("tickets.FileAgent: %w", err)
	}
	s.put(r, "")
	return r.Ticket, false, nil
}

// byKey finds a ticket by its storage key.
func (s *Store) byKey(key string) (record, bool, error) {
	var r record
	err := s.db.View(func(tx store.Tx) error { return tx.Get(nsTicket, key, &r) })
	switch {
	case errors.Is(err, store.ErrNotFound):
		return record{}, false, nil
	case err != nil:
		return record{}, false, fmt.Errorf("tickets: %w", err)
	}
	return r, true, nil
}

// insert gives r the next number and writes it, its number's index and
// the counter in one transaction.
func (s *Store) insert(r *record) error {
	return s.db.Update(func(tx store.Tx) error {
		var last int
		if err := tx.Get(nsSeq, "n", &last); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		last = max(last, firstNum) + 1
		r.Num, r.Number, r.Version = last, numberOf(last), 1
		if err := tx.Put(nsSeq, "n", last); err != nil {
			return err
		}
		if err := tx.Insert(nsNumber, strconv.Itoa(last), r.Key); err != nil {
			return err
		}
		return tx.Insert(nsTicket, r.Key, r)
	})
}

// writeBlob writes attachment i of the ticket key in chunks, one
// transaction each.
func (s *Store) writeBlob(key string, i int, a wire.Attachment) (wire.AttachmentInfo, error) {
	for c, off := 0, 0; off < len(a.Data); c, off = c+1, off+chunk {
		part := a.Data[off:min(off+chunk, len(a.Data))]
		if err := s.db.Update(func(tx store.Tx) error { return tx.Put(nsBlob, fmt.Sprintf("%s/%02d/%04d", key, i, c), part) }); err != nil {
			return wire.AttachmentInfo{}, fmt.Errorf("attachment %d: %w", i, err)
		}
	}
	return wire.AttachmentInfo{Index: i, Name: a.Name, Type: a.Type, Size: len(a.Data)}, nil
}

// Create files a technician's ticket about dev (zero for none) under
// company.
func (s *Store) Create(actor string, c wire.TicketCreate, dev Device) (wire.Ticket, error) {
	if err := checkTitle(c.Title); err != nil {
		return wire.Ticket{}, err
	}
	if err := checkText("description", c.Description); err != nil {
		return wire.Ticket{}, err
	}
	if c.Priority == "" {
		c.Priority = wire.PriorityNormal
	}
	if !slices.Contains(wire.Priorities, c.Priority) {
		return wire.Ticket{}, fmt.Errorf("%w: unknown priority %q", ErrInvalid, c.Priority)
	}
	if len(c.Company) > maxID || len(c.Assignee) > maxAssign || !printable(c.Company) || !printable(c.Assignee) {
		return wire.Ticket{}, fmt.Errorf("%w: company or assignee", ErrInvalid)
	}
	now := s.now().UTC()
	company := c.Company
	if dev.ID != "" {
		company = dev.Company
	}
	r := record{Key: randomKey(), Ticket: wire.Ticket{
		Title: c.Title, Description: c.Description, Status: wire.StatusOpen, Priority: c.Priority,
		Company: company, Device: dev.ID, DeviceName: dev.Name, Assignee: c.Assignee, User: actor, Source: srcTech,
		Created: now, Updated: now,
	}}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.insert(&r); err != nil {
		return wire.Ticket{}, fmt.Errorf("tickets.Create: %w", err)
	}
	s.put(r, "")
	return r.Ticket, nil
}

// change rewrites a ticket's header (and what extra writes) in one
// transaction and then in memory (its search text grown by text), all
// under the write lock, so the next change reads this one's header.
func (s *Store) change(number string, fn func(r *record) error, extra func(tx store.Tx, r record) error, text string) (record, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.changeLocked(number, fn, extra, text)
}

// changeLocked is change for a caller that holds the write lock.
func (s *Store) changeLocked(number string, fn func(r *record) error, extra func(tx store.Tx, r record) error, text string) (record, error) {
	r, err := s.header(number)
	if err != nil {
		return record{}, err
	}
	if err := fn(&r); err != nil {
		return record{}, err
	}
	r.Version++
	r.Updated = s.now().UTC()
	err = s.db.Update(func(tx store.Tx) error {
		if extra != nil {
			if err := extra(tx, r); err != nil {
				return err
			}
		}
		return tx.Put(nsTicket, r.Key, r)
	})
	if err != nil {
		return record{}, fmt.Errorf("tickets: %s: %w", number, err)
	}
	s.put(r, text)
	return r, nil
}

// Update applies u and returns the ticket and the names of the fields
// that changed (none: nothing is written).
func (s *Store) Update(number string, u wire.TicketUpdate) (wire.Ticket, []string, error) {
	if u.Status != "" && !slices.Contains(wire.Statuses, u.Status) {
		return wire.Ticket{}, nil, fmt.Errorf("%w: unknown status %q", ErrInvalid, u.Status)
	}
	if u.Priority != "" && !slices.Contains(wire.Priorities, u.Priority) {
		return wire.Ticket{}, nil, fmt.Errorf("%w: unknown priority %q", ErrInvalid, u.Priority)
	}
	if u.Title != "" {
		if err := checkTitle(u.Title); err != nil {
			return wire.Ticket{}, nil, err
		}
	}
	if len(u.Assignee) > maxAssign || !printable(u.Assignee) || len(u.Session) > maxID || !printable(u.Session) {
		return wire.Ticket{}, nil, fmt.Errorf("%w: assignee or session", ErrInvalid)
	}
	var changed []string
	r, err := s.change(number, func(r *record) error {
		set := func(name string, field *string, v string) {
			if v != "" && *field != v {
				*field = v
				changed = append(changed, name)
			}
		}
		set("status", &r.Status, u.Status)
		set("priority", &r.Priority, u.Priority)
		set("title", &r.Title, u.Title)
		if u.Assignee == unassign && r.Assignee != "" {
			r.Assignee = ""
			changed = append(changed, "assignee")
		} else if u.Assignee != unassign {
			set("assignee", &r.Assignee, u.Assignee)
		}
		if u.Session != "" && !slices.Contains(r.Sessions, u.Session) {
			if len(r.Sessions) >= wire.MaxTicketSessions {
				return fmt.Errorf("%w: %d sessions linked", ErrFull, len(r.Sessions))
			}
			r.Sessions = append(r.Sessions, u.Session)
			changed = append(changed, "sessions")
		}
		if len(changed) == 0 {
			return errNoChange
		}
		return nil
	}, nil, "")
	if errors.Is(err, errNoChange) {
		t, err := s.Header(number)
		return t, nil, err
	}
	if err != nil {
		return wire.Ticket{}, nil, err
	}
	return r.Ticket, changed, nil
}

var errNoChange = errors.New("no change")

// Comment adds author's comment.
func (s *Store) Comment(number, author, text string) (wire.Ticket, error) {
	if strings.TrimSpace(text) == "" {
		return wire.Ticket{}, fmt.Errorf("%w: an empty comment", ErrInvalid)
	}
	if err := checkText("comment", text); err != nil {
		return wire.Ticket{}, err
	}
	c := wire.TicketComment{Author: author, Text: text, Time: s.now().UTC()}
	r, err := s.change(number, func(r *record) error {
		if r.NComments >= wire.MaxTicketComments {
			return fmt.Errorf("%w: %d comments", ErrFull, r.NComments)
		}
		r.NComments++
		return nil
	}, func(tx store.Tx, r record) error {
		return tx.Put(nsComment, fmt.Sprintf("%s/%06d", r.Key, r.NComments-1), c)
	}, text)
	if err != nil {
		return wire.Ticket{}, err
	}
	return r.Ticket, nil
}

// Attach adds an attachment.
func (s *Store) Attach(number string, a wire.Attachment) (wire.Ticket, error) {
	if err := CheckAttachment(a); err != nil {
		return wire.Ticket{}, err
	}
	// Under the write lock from the chunks to the header: the index is
	// the ticket's next, and no other attachment takes it meanwhile.
	s.wmu.Lock()
	defer s.wmu.Unlock()
	r, err := s.header(number)
	if err != nil {
		return wire.Ticket{}, err
	}
	if len(r.Attachments) >= wire.MaxTicketAttachments {
		return wire.Ticket{}, fmt.Errorf("%w: %d attachments", ErrFull, len(r.Attachments))
	}
	info, err := s.writeBlob(r.Key, len(r.Attachments), a)
	if err != nil {
		return wire.Ticket{}, fmt.Errorf("tickets.Attach: %w", err)
	}
	r, err = s.changeLocked(number, func(r *record) error {
		r.Attachments = append(r.Attachments, info)
		return nil
	}, nil, "")
	if err != nil {
		return wire.Ticket{}, err
	}
	return r.Ticket, nil
}

// Attachment returns attachment i of a ticket and its bytes.
func (s *Store) Attachment(number string, i int) (wire.AttachmentInfo, []byte, error) {
	r, err := s.header(number)
	if err != nil {
		return wire.AttachmentInfo{}, nil, err
	}
	if i < 0 || i >= len(r.Attachments) {
		return wire.AttachmentInfo{}, nil, ErrNotFound
	}
	info := r.Attachments[i]
	data := make([]byte, 0, info.Size)
	err = s.db.View(func(tx store.Tx) error {
		return tx.Scan(nsBlob, fmt.Sprintf("%s/%02d/", r.Key, i), func(_ string, v []byte) error {
			var part []byte
			if err := store.Decode(v, &part); err != nil {
				return err
			}
			data = append(data, part...)
			return nil
		})
	})
	if err != nil {
		return wire.AttachmentInfo{}, nil, fmt.Errorf("tickets.Attachment: %w", err)
	}
	if len(data) != info.Size {
		return wire.AttachmentInfo{}, nil, fmt.Errorf("tickets.Attachment: %d bytes stored, %d expected", len(data), info.Size)
	}
	return info, data, nil
}

// SetSummary writes a ticket's AI summary.
func (s *Store) SetSummary(number, summary string) (wire.Ticket, error) {
	summary = strings.TrimSpace(summary)
	if summary == "" || !utf8.ValidString(summary) {
		return wire.Ticket{}, fmt.Errorf("%w: an empty summary", ErrInvalid)
	}
	if len(summary) > wire.MaxSummary {
		summary = strings.ToValidUTF8(summary[:wire.MaxSummary], "")
	}
	r, err := s.change(number, func(r *record) error {
		r.Summary, r.SummaryAt = summary, wire.SummaryDone
		return nil
	}, nil, "")
	if err != nil {
		return wire.Ticket{}, err
	}
	return r.Ticket, nil
}
