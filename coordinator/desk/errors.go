package desk

import (
	"errors"
	"fmt"
)

// Kind classifies a refusal; each transport maps it to its own answer (the
// JSON API to an HTTP status and a wire error code).
type Kind uint8

// Kinds of refusal.
const (
	Internal        Kind = iota // something broke; the caller did nothing wrong
	Invalid                     // the request is malformed or out of bounds
	Unauthenticated             // no, or no valid, credentials
	Forbidden                   // the caller's role may not do this
	NotFound                    // absent, or out of the caller's company scope
	Conflict                    // the state does not allow it now
	Expired                     // the code, token or session has expired or was cancelled
	RateLimited                 // too many attempts; wait
	Locked                      // the account is locked after failures
	Unavailable                 // a part the decision needs is not there
)

var kindNames = [...]string{"internal", "invalid", "unauthenticated", "forbidden", "not found", "conflict",
	"expired", "rate limited", "locked", "unavailable"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is a refusal of the desk: its Kind, a sentence safe to show the
// caller (Public) and the internal cause (Err) for logs and the audit
// trail. errors.Is(err, ErrForbidden) and the other Err… values match by
// kind; errors.Is on the cause (support.ErrNoCode, …) works through Unwrap.
type Error struct {
	Kind   Kind
	Public string
	Err    error
}

func (e *Error) Error() string {
	switch {
	case e.Err == nil:
		return e.Public
	case e.Public == "":
		return e.Err.Error()
	}
	return e.Public + " (" + e.Err.Error() + ")"
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches the kind sentinels: an *Error with only a Kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Public == "" && t.Err == nil && t.Kind == e.Kind
}

// Sentinels for errors.Is by kind.
var (
	ErrInternal        = &Error{Kind: Internal}
	ErrInvalid         = &Error{Kind: Invalid}
	ErrUnauthenticated = &Error{Kind: Unauthenticated}
	ErrForbidden       = &Error{Kind: Forbidden}
	ErrNotFound        = &Error{Kind: NotFound}
	ErrConflict        = &Error{Kind: Conflict}
	ErrExpired         = &Error{Kind: Expired}
	ErrRateLimited     = &Error{Kind: RateLimited}
	ErrLocked          = &Error{Kind: Locked}
	ErrUnavailable     = &Error{Kind: Unavailable}
)

// Causes the desk itself names; test with errors.Is.
var (
	ErrLoginRateLimited = errors.New("too many login attempts from this address; wait a minute")
	ErrCodeRateLimited  = errors.New("too many attempts; try again later")
	ErrBadLogin         = errors.New("wrong user name or password")
	ErrAccountLocked    = errors.New("account locked after repeated failures; try again later")
	ErrOutOfScope       = errors.New("out of the caller's company scope")
)

// KindOf is err's kind: Internal for an error that is not an *Error.
func KindOf(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return Internal
}

// PublicOf is the sentence err may show its caller: a generic one for an
// error that is not an *Error or has none.
func PublicOf(err error) string {
	if e, ok := errors.AsType[*Error](err); ok && e.Public != "" {
		return e.Public
	}
	return "internal error"
}

func newErr(k Kind, public string, cause error) *Error {
	return &Error{Kind: k, Public: public, Err: cause}
}

// internal wraps an unexpected failure.
func internal(public string, cause error) *Error { return newErr(Internal, public, cause) }
