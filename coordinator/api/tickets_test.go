package api

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/coordinator/tickets"
	"github.com/peerdesk/peerdesk/coordinator/webhooks"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// ticketEnv is the API with tickets and webhooks (the dispatcher is never
// run: deliveries stay queued, for the test to count).
func ticketEnv(t *testing.T) (*env, *webhooks.Dispatcher) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e, cfg := envOver(t, db, dir)
	cfg.Tickets, err = tickets.Open(db, e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Webhooks, err = webhooks.New(webhooks.Config{DB: db, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	e.srv, e.desk = e.server(cfg)
	e.pub = e.srv.Handler()
	return e, cfg.Webhooks
}

func pngBytes(t *testing.T) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestAgentTickets: an enrolled agent files a ticket with its device
// credentials, once per ID (the second POST answers the same number with
// Duplicate and files nothing); both are audited; a technician's API key
// lists, reads, updates and comments on it and fetches its screenshot,
// served with its own type, nosniff and a sandbox; each change queues a
// delivery for a subscribed webhook.
func TestAgentTickets(t *testing.T) {
	leak.Check(t)
	e, hooks := ticketEnv(t)
	admin := e.session(t, "root", policy.RoleAdmin)
	w := e.do(e.pub, "POST", wire.PathWebhooks, admin, `{"url":"https://psa.example/hook","events":["ticket.created","ticket.updated","ticket.commented"]}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("webhook: %d %s", w.Code, w.Body)
	}
	dev := e.enroll(t, "pc-1", 'a')
	shot := pngBytes(t)
	body := mustJSON(t, wire.AgentTicket{ID: fmt.Sprintf("%032x", 42), Title: "Printer offline", Priority: wire.PriorityHigh, User: `ACME\alice`,
		Created: t0, Chat: []wire.ChatLine{{Role: "user", Text: "my printer does nothing", Time: t0}},
		Attachments: []wire.Attachment{{Name: "screen.png", Type: "image/png", Data: shot}}})

	wantError(t, e.do(e.pub, "POST", wire.PathAgentTickets, "", body), http.StatusUnauthorized, wire.CodeUnauthorized)
	wantError(t, e.do(e.pub, "POST", wire.PathAgentTickets, dev.auth+"x", body), http.StatusUnauthorized, wire.CodeUnauthorized)
	var first, second wire.AgentTicketReceipt
	w = e.do(e.pub, "POST", wire.PathAgentTickets, dev.auth, body)
	if w.Code != http.StatusOK {
		t.Fatalf("file: %d %s", w.Code, w.Body)
	}
	decodeJSON(t, w, &first)
	w = e.do(e.pub, "POST", wire.PathAgentTickets, dev.auth, body)
	decodeJSON(t, w, &second)
	if first.Ticket != "T-1001" || first.Duplicate || second.Ticket != first.Ticket || !second.Duplicate {
		t.Fatalf("receipts %+v then %+v", first, second)
	}
	if n := len(e.records(t, "ticket.file", "ok")); n != 2 {
		t.Errorf("%d ticket.file records, want 2 (the filing and the duplicate)", n)
	}
	if hooks.Queued() != 1 {
		t.Errorf("%d deliveries queued after one ticket, want 1", hooks.Queued())
	}
	bad := mustJSON(t, wire.AgentTicket{ID: fmt.Sprintf("%032x", 43), Title: "x", Priority: "asap"})
	wantError(t, e.do(e.pub, "POST", wire.PathAgentTickets, dev.auth, bad), http.StatusBadRequest, wire.CodeBadRequest)

	// A technician's API key.
	_, bobSess, err := newSession(e.accounts, "bob", policy.RoleTechnician)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := e.accounts.CreateAPIKey(bobSess, "psa", policy.RoleTechnician, nil, e.clock.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	bearer := "Bearer " + key
	var list wire.TicketList
	w = e.do(e.pub, "GET", wire.PathTickets+"?q=PRINTER&status=open", bearer, "")
	decodeJSON(t, w, &list)
	if w.Code != http.StatusOK || list.Total != 1 || list.Tickets[0].Number != "T-1001" || list.Tickets[0].DeviceName != "pc-1" {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	w = e.do(e.pub, "PATCH", wire.PathTickets+"/T-1001", bearer, `{"status":"in_progress","assignee":"bob"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("update: %d %s", w.Code, w.Body)
	}
	wantError(t, e.do(e.pub, "PATCH", wire.PathTickets+"/T-1001", bearer, `{"assignee":"nobody"}`), http.StatusBadRequest, wire.CodeBadRequest)
	w = e.do(e.pub, "POST", wire.PathTickets+"/T-1001/comments", bearer, `{"text":"Toner replaced"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("comment: %d %s", w.Code, w.Body)
	}
	var got wire.Ticket
	decodeJSON(t, e.do(e.pub, "GET", wire.PathTickets+"/T-1001", bearer, ""), &got)
	if got.Status != wire.StatusInProgress || got.Assignee != "bob" || len(got.Comments) != 1 || got.Comments[0].Author != "bob" || len(got.Chat) != 1 {
		t.Errorf("ticket %+v", got)
	}
	w = e.do(e.pub, "GET", wire.PathTickets+"/T-1001/attachments/0", bearer, "")
	if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), shot) || w.Header().Get("Content-Type") != "image/png" ||
		w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("Content-Security-Policy") != "default-src 'none'; sandbox" {
		t.Errorf("attachment: %d %v", w.Code, w.Header())
	}
	w = e.do(e.pub, "POST", wire.PathTickets+"/T-1001/attachments", bearer, mustJSON(t, wire.Attachment{Name: "fake.png", Type: "image/png", Data: []byte("<script>alert(1)</script>")}))
	wantError(t, w, http.StatusBadRequest, wire.CodeBadRequest)
	if n := hooks.Queued(); n != 3 {
		t.Errorf("%d deliveries queued (created, updated, commented), want 3", n)
	}
	// Webhooks are the admin's, and never an API key's to change.
	wantError(t, e.do(e.pub, "POST", wire.PathWebhooks, bearer, `{"url":"https://x.example","events":["ticket.created"]}`), http.StatusForbidden, wire.CodeForbidden)
	wantError(t, e.do(e.pub, "GET", wire.PathWebhooks, bearer, ""), http.StatusForbidden, wire.CodeForbidden)
}
