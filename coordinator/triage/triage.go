// Package triage is the coordinator's client to the shop's own Ollama: the
// help desk assistant's one way to a model.
//
// # Overview
//
// A Client sends a conversation to Ollama's chat API
// (github.com/ollama/ollama/api, streamed, temperature 0) and returns the
// assistant's answer: its text, streamed to a callback as it is generated,
// and its tool calls, each checked against the whitelist. Only the
// coordinator talks to the model; agents never learn its address.
//
// # Safety
//
//   - Every call has a deadline (Config.Timeout, on top of the caller's
//     context). A model that is down, unreachable, answering 5xx or too slow
//     gives an error matching ErrUnavailable, so the caller can answer the
//     user with the shop's contacts and queue the message.
//   - BuildMessages fences every user text and tool output as data (see
//     FenceUser for the scheme); the shop's system prompt additions are the
//     only unfenced words besides our own.
//   - The model may call only the tools of the whitelist (Diagnostics, and
//     ProposeTool naming one of Remediations), with arguments that pass each
//     parameter's rule. Whitelist.Check refuses anything else with a
//     *RefusedError (errors.Is ErrRefused) that the caller audits; Chat
//     returns accepted Calls and refused ones side by side. A Call is a
//     name from the table and validated values: the agent builds the
//     command from the name, and the model's words never become a command
//     line. The agent checks the same table again before it runs anything.
//
// # Usage
//
//	c, err := triage.New(triage.Config{URL: "http://ollama.shop.lan:11434", Model: "qwen3:8b"})
//	msgs, err := triage.BuildMessages(shopAdditions, history)
//	reply, err := c.Chat(ctx, triage.Request{Messages: msgs}, func(s string) { stream(s) })
//	var refused *triage.RefusedError
//	if errors.As(err, &refused) { audit(refused) } // reply still holds the rest
package triage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
)

// Config is the client's configuration: the shop's Ollama and model.
type Config struct {
	// URL is the Ollama server's base URL, e.g. http://10.0.0.5:11434.
	URL string
	// Model is the model name, e.g. "qwen3:8b".
	Model string
	// Timeout bounds each call, from sending the request to the last
	// token; 0 means DefaultTimeout.
	Timeout time.Duration
	// Whitelist is the company's allowed tools; the zero value allows the
	// whole table.
	Whitelist Whitelist
	// HTTPClient, if set, is used for the requests (its own Timeout should
	// be 0: streaming answers last as long as generation).
	HTTPClient *http.Client
}

// DefaultTimeout bounds a call when Config.Timeout is 0.
const DefaultTimeout = 90 * time.Second

// Client talks to one Ollama server. It is safe for concurrent use.
type Client struct {
	cfg   Config
	api   *api.Client
	tools api.Tools
}

// New checks cfg and returns a client. It does not contact the server.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("triage.New: URL %q is not an http(s) URL", cfg.URL)
	}
	// The shop's own model only: the api package signs requests to
	// ollama.com with a key from $HOME/.ollama, and nothing leaves the shop.
	if h := strings.ToLower(u.Hostname()); h == "ollama.com" || strings.HasSuffix(h, ".ollama.com") {
		return nil, fmt.Errorf("triage.New: %s is not the shop's own server", u.Hostname())
	}
	if cfg.Model == "" {
		return nil, errors.New("triage.New: no model")
	}
	if err := cfg.Whitelist.Validate(); err != nil {
		return nil, fmt.Errorf("triage.New: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{cfg: cfg, api: api.NewClient(u, hc), tools: cfg.Whitelist.Tools()}, nil
}

// ErrUnavailable is matched (errors.Is) by every error that means the model
// cannot answer now: down, unreachable, overloaded, or past the deadline.
var ErrUnavailable = errors.New("triage: the model is unavailable")

// ErrBadAnswer is matched by errors for an answer that is not what was
// asked (JSON that does not decode under Format).
var ErrBadAnswer = errors.New("triage: the model's answer is not usable")

// UnavailableError says why the model is unavailable.
type UnavailableError struct {
	Op  string
	Err error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("triage: %s: the model is unavailable: %v", e.Op, e.Err)
}

// Unwrap returns the cause (context.DeadlineExceeded for a timeout).
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Request is one call to the model.
type Request struct {
	// Messages are the conversation from BuildMessages.
	Messages []api.Message
	// Format, if set, is a JSON schema the answer's text must follow
	// (Ollama constrains generation to it); no tools are offered then.
	Format json.RawMessage
	// NoTools offers the model no tools (e.g. for a ticket summary).
	NoTools bool
}

// Reply is the assistant's answer.
type Reply struct {
	// Text is the answer's text, as streamed.
	Text string
	// Calls are the tool calls that passed the whitelist.
	Calls []Call
	// Refused are the tool calls that did not; the error Chat returns
	// holds the same.
	Refused []*RefusedError
	// Tokens is how many tokens the model generated.
	Tokens int
}

// Chat sends req and streams the answer's text to onText (which may be
// nil) as it arrives, one call per chunk (a token or a few). It returns
// the whole reply; refused tool calls make err non-nil (every one a
// *RefusedError, joined) while reply still holds the text and the
// accepted calls. Any failure to get an answer matches ErrUnavailable.
func (c *Client) Chat(ctx context.Context, req Request, onText func(string)) (*Reply, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	stream := true
	areq := &api.ChatRequest{
		Model:    c.cfg.Model,
		Messages: req.Messages,
		Stream:   &stream,
		Format:   req.Format,
		Options:  map[string]any{"temperature": 0},
	}
	if req.Format == nil && !req.NoTools {
		areq.Tools = c.tools
	}
	var text strings.Builder
	reply := &Reply{}
	var calls []api.ToolCall
	err := c.api.Chat(ctx, areq, func(r api.ChatResponse) error {
		if r.Message.Content != "" {
			text.WriteString(r.Message.Content)
			if onText != nil {
				onText(r.Message.Content)
			}
		}
		calls = append(calls, r.Message.ToolCalls...)
		if r.Done {
			reply.Tokens = r.EvalCount
		}
		return nil
	})
	if err != nil {
		return nil, unavailable(ctx, "chat", err)
	}
	reply.Text = text.String()
	var errs []error
	for _, tc := range calls {
		call, err := c.cfg.Whitelist.Check(tc)
		if err != nil {
			var r *RefusedError
			if errors.As(err, &r) {
				reply.Refused = append(reply.Refused, r)
			}
			errs = append(errs, err)
			continue
		}
		reply.Calls = append(reply.Calls, call)
	}
	if req.Format != nil {
		var v any
		if err := json.Unmarshal([]byte(reply.Text), &v); err != nil {
			errs = append(errs, fmt.Errorf("%w: not JSON: %v", ErrBadAnswer, err))
		}
	}
	return reply, errors.Join(errs...)
}

// unavailable classifies a failed call. A 4xx other than 429 is a
// configuration error (e.g. a model name the server does not have) and is
// returned as is; everything else means "not now".
func unavailable(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &UnavailableError{Op: op, Err: fmt.Errorf("%w (%v)", ctxErr, err)}
	}
	var se api.StatusError
	if errors.As(err, &se) && se.StatusCode >= 400 && se.StatusCode < 500 && se.StatusCode != http.StatusTooManyRequests {
		return fmt.Errorf("triage: %s: %w", op, err)
	}
	return &UnavailableError{Op: op, Err: err}
}
