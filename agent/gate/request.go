package gate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/peerdesk/peerdesk/wire"
)

// ErrTooLarge is wrapped by DecodeRequest when the body exceeds
// wire.MaxRequestBody.
var ErrTooLarge = errors.New("the request body is too large")

// DecodeRequest reads a capability's request body into v strictly: at most
// wire.MaxRequestBody bytes, exactly one JSON value, no unknown fields and
// nothing after it. Its errors are safe to show the caller.
func DecodeRequest(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, wire.MaxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return ErrTooLarge
		}
		return fmt.Errorf("the request body is not valid: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("the request body has data after the request")
	}
	return nil
}

// WriteError answers a peer call with a wire.Error.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(wire.Error{Code: code, Message: msg}) //nolint:errcheck // client gone
}
