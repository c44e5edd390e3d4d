package wire

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// EnrollToken is a single-use enrollment token as an admin hands it out:
// "pde1-<id>-<secret>-<pin>", where id is 8 hex digits naming the token on the
// coordinator, secret is 40 hex digits, and pin is the SHA-256 of the
// coordinator CA's public key (hex), as kubeadm's join carries its CA hash.
// The agent trusts the coordinator only if its CA matches the pin.
type EnrollToken struct {
	ID     string
	Secret string
	Pin    string
}

const tokenPrefix = "pde1-"

// ErrBadToken is returned for strings that are not enrollment tokens.
var ErrBadToken = errors.New("wire: malformed enrollment token")

// String encodes t.
func (t EnrollToken) String() string {
	return tokenPrefix + t.ID + "-" + t.Secret + "-" + t.Pin
}

// ParseEnrollToken decodes s and checks every field's shape.
func ParseEnrollToken(s string) (EnrollToken, error) {
	s = strings.TrimSpace(s)
	if len(s) > 256 || !strings.HasPrefix(s, tokenPrefix) {
		return EnrollToken{}, ErrBadToken
	}
	parts := strings.Split(s[len(tokenPrefix):], "-")
	if len(parts) != 3 {
		return EnrollToken{}, ErrBadToken
	}
	t := EnrollToken{ID: parts[0], Secret: parts[1], Pin: parts[2]}
	for _, f := range []struct {
		name, v string
		n       int
	}{{"id", t.ID, 8}, {"secret", t.Secret, 40}, {"pin", t.Pin, 64}} {
		if len(f.v) != f.n || !isLowerHex(f.v) {
			return EnrollToken{}, fmt.Errorf("%w: %s must be %d lower-case hex digits", ErrBadToken, f.name, f.n)
		}
	}
	return t, nil
}

// PinEqual compares two pins in constant time.
func PinEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func isLowerHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}
