package localui

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/peerdesk/peerdesk/agent/assist"
	"github.com/peerdesk/peerdesk/templates/agentui"
	"github.com/peerdesk/peerdesk/wire"
)

// Assistant is the help desk assistant the chat page talks to (package
// assist's Assistant).
type Assistant interface {
	Name() string
	History() []wire.ChatLine
	Send(ctx context.Context, text string, emit func(assist.Event)) error
	Approve(ctx context.Context, id string) (string, error)
	Decline(ctx context.Context, id string) error
}

// chatTimeout bounds one message's turn (diagnostics included) and one
// approved fix.
const chatTimeout = 5 * time.Minute

// chatRoutes serves the chat with the assistant on a page of its own
// (base+"chat"), so the main page's reload on every change does not wipe
// it. Its posts are JSON (application/json: a cross-site form cannot send
// that without a preflight this server never grants) on top of authed's
// cookie and Origin checks.
func (u *UI) chatRoutes(mux *http.ServeMux) {
	if u.cfg.Assistant == nil {
		return
	}
	mux.Handle("GET "+u.base+"chat", u.authed(u.chatPage))
	mux.Handle("POST "+u.base+"chat/send", u.authed(u.chatSend))
	mux.Handle("POST "+u.base+"chat/approve", u.authed(u.chatApprove))
	mux.Handle("POST "+u.base+"chat/decline", u.authed(u.chatDecline))
	mux.Handle("GET "+u.base+"chat.js", u.authed(chatScript))
}

func (u *UI) chatPage(w http.ResponseWriter, r *http.Request) {
	v := agentui.ChatView{Base: u.base, Product: "peerdesk", Name: u.cfg.Assistant.Name(), Contacts: u.cfg.Contacts}
	for _, l := range u.cfg.Assistant.History() {
		if l.Role == "user" || l.Role == "assistant" {
			v.Lines = append(v.Lines, agentui.ChatLine{Mine: l.Role == "user", Text: l.Text})
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := agentui.Chat(v).Render(r.Context(), w); err != nil {
		u.cfg.Logger.Debug("rendering the chat", "err", err)
	}
}

// readJSON decodes a small JSON body into v; it refuses anything that is
// not application/json.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		http.Error(w, "a JSON body is required", http.StatusUnsupportedMediaType)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, wire.MaxAssistText+4<<10)
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return false
	}
	return true
}

// chatSend sends the user's message and streams the answer's events as
// newline-delimited JSON (assist.Event, one a line), flushed one by one:
// the page shows each token as it arrives.
func (u *UI) chatSend(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Text string `json:"text"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	ctx, cancel := context.WithTimeout(r.Context(), chatTimeout)
	defer cancel()
	enc := json.NewEncoder(w)
	started := false
	emit := func(ev assist.Event) {
		started = true
		if err := enc.Encode(ev); err == nil { // an Event of strings always encodes; a write error is the page gone
			fl.Flush()
		}
	}
	if err := u.cfg.Assistant.Send(ctx, in.Text, emit); err != nil {
		if !started && ctx.Err() == nil {
			u.cfg.Logger.Info("the assistant could not take a message", "err", err)
		}
		msg := "Your message could not be sent."
		if u.cfg.Contacts != "" {
			msg += " Please contact the help desk: " + u.cfg.Contacts
		}
		emit(assist.Event{Type: "error", Text: msg + " (" + err.Error() + ")"})
	}
}

// chatApprove runs the proposal the user approved, named by its id; an id
// that names no open proposal (already run, declined, or never made) runs
// nothing.
func (u *UI) chatApprove(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ID string `json:"id"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), chatTimeout)
	defer cancel()
	out, err := u.cfg.Assistant.Approve(ctx, in.ID)
	ev := assist.Event{Type: "ran", ID: in.ID, Text: out}
	status := http.StatusOK
	switch {
	case errors.Is(err, assist.ErrNoProposal):
		status, ev = http.StatusNotFound, assist.Event{Type: "error", ID: in.ID, Text: "That fix is no longer on offer: nothing ran."}
	case err != nil:
		status, ev = http.StatusConflict, assist.Event{Type: "error", ID: in.ID, Text: "The fix did not run: " + err.Error()}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(ev) //nolint:errcheck // client gone
}

// declineTimeout bounds telling the coordinator of a declined fix.
const declineTimeout = 30 * time.Second

// chatDecline closes the proposal the user declined, named by its id: it
// can no longer be approved, and the coordinator is told. The agent's side
// is closed at once, whether or not the coordinator could be told.
func (u *UI) chatDecline(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ID string `json:"id"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), declineTimeout)
	defer cancel()
	err := u.cfg.Assistant.Decline(ctx, in.ID)
	ev, status := assist.Event{Type: "declined", ID: in.ID, Text: "Declined: nothing ran."}, http.StatusOK
	switch {
	case errors.Is(err, assist.ErrNoProposal):
		status, ev = http.StatusNotFound, assist.Event{Type: "error", ID: in.ID, Text: "That fix is no longer on offer: nothing ran."}
	case err != nil:
		u.cfg.Logger.Info("a declined fix", "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(ev) //nolint:errcheck // client gone
}

func chatScript(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	io.WriteString(w, chatJS) //nolint:errcheck // client gone
}

//go:embed chat.js
var chatJS string
