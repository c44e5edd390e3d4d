// Package grant signs and verifies session grants: short-lived, ed25519-signed
// statements by the coordinator that one technician's overlay node may use
// some capabilities on one device until an expiry.
//
// A grant is the second of the two locks on every peer call (I3); the first is
// the caller's overlay identity from WhoIs. An agent checks both with Check.
//
// The encoding is "pdg1." + base64url(JSON payload) + "." + base64url(signature),
// where the signature covers everything before the last dot.
package grant

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

const prefix = "pdg1."

// Limits on grants.
const (
	MaxLifetime = time.Hour        // no grant may live longer
	ClockSkew   = 30 * time.Second // tolerated difference between clocks
	MaxEncoded  = 4096             // bytes; longer strings are refused unread
)

// Errors returned by Verify and Check; test with errors.Is.
var (
	ErrMalformed   = errors.New("grant: malformed")
	ErrSignature   = errors.New("grant: bad signature")
	ErrExpired     = errors.New("grant: expired")
	ErrNotYetValid = errors.New("grant: not yet valid")
	ErrLifetime    = errors.New("grant: lifetime too long")
	ErrWrongDevice = errors.New("grant: issued for another device")
	ErrWrongNode   = errors.New("grant: presented by another node")
	ErrCapability  = errors.New("grant: capability not granted")
)

// Grant is the signed statement.
type Grant struct {
	ID           string            `json:"id"`
	Technician   string            `json:"tech"`
	NodeKey      string            `json:"node"` // the technician node's WireGuard key, "nodekey:<hex>"
	Device       string            `json:"dev"`
	Capabilities []wire.Capability `json:"caps"`
	IssuedAt     int64             `json:"iat"` // Unix seconds
	Expires      int64             `json:"exp"` // Unix seconds
}

// NewID returns a random grant identifier.
func NewID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("grant: crypto/rand failed: " + err.Error()) // rand.Read never fails on supported OSes
	}
	return hex.EncodeToString(b[:])
}

// Sign encodes and signs g with key.
func Sign(key ed25519.PrivateKey, g Grant) (string, error) {
	if err := g.validate(); err != nil {
		return "", err
	}
	payload, err := json.Marshal(g)
	if err != nil {
		return "", fmt.Errorf("grant.Sign: %w", err)
	}
	signed := prefix + base64.RawURLEncoding.EncodeToString(payload)
	sig := ed25519.Sign(key, []byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// Verify decodes s, checks its signature against pub and its validity at now.
func Verify(pub ed25519.PublicKey, s string, now time.Time) (Grant, error) {
	g, signed, sig, err := decode(s)
	if err != nil {
		return Grant{}, err
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, signed, sig) {
		return Grant{}, ErrSignature
	}
	if now.Unix() > g.Expires+int64(ClockSkew/time.Second) {
		return Grant{}, fmt.Errorf("%w at %s", ErrExpired, time.Unix(g.Expires, 0).UTC().Format(time.RFC3339))
	}
	if now.Unix() < g.IssuedAt-int64(ClockSkew/time.Second) {
		return Grant{}, ErrNotYetValid
	}
	return g, nil
}

// Check verifies that g lets the node with nodeKey use capability c on device.
func (g Grant) Check(device, nodeKey string, c wire.Capability) error {
	if g.Device != device {
		return ErrWrongDevice
	}
	if g.NodeKey != nodeKey {
		return ErrWrongNode
	}
	if !slices.Contains(g.Capabilities, c) {
		return fmt.Errorf("%w: %s", ErrCapability, c)
	}
	return nil
}

func decode(s string) (g Grant, signed, sig []byte, err error) {
	if len(s) > MaxEncoded || !strings.HasPrefix(s, prefix) {
		return g, nil, nil, ErrMalformed
	}
	dot := strings.LastIndexByte(s, '.')
	if dot <= len(prefix) {
		return g, nil, nil, ErrMalformed
	}
	payload, err := base64.RawURLEncoding.DecodeString(s[len(prefix):dot])
	if err != nil {
		return g, nil, nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	sig, err = base64.RawURLEncoding.DecodeString(s[dot+1:])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return g, nil, nil, fmt.Errorf("%w: signature encoding", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return g, nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return g, nil, nil, fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	if err := g.validate(); err != nil {
		return g, nil, nil, err
	}
	return g, []byte(s[:dot]), sig, nil
}

func (g Grant) validate() error {
	switch {
	case g.ID == "" || g.Technician == "" || g.Device == "":
		return fmt.Errorf("%w: missing id, technician or device", ErrMalformed)
	case !strings.HasPrefix(g.NodeKey, "nodekey:"):
		return fmt.Errorf("%w: node key", ErrMalformed)
	case len(g.Capabilities) == 0:
		return fmt.Errorf("%w: no capabilities", ErrMalformed)
	case g.Expires <= g.IssuedAt:
		return fmt.Errorf("%w: expiry before issue", ErrMalformed)
	// The lifetime in seconds, exact: Expires > IssuedAt, so the unsigned
	// difference cannot wrap (a signed one, or one in nanoseconds, can).
	case uint64(g.Expires)-uint64(g.IssuedAt) > uint64(MaxLifetime/time.Second):
		return ErrLifetime
	}
	for _, c := range g.Capabilities {
		if !c.Valid() {
			return fmt.Errorf("%w: unknown capability %q", ErrMalformed, c)
		}
	}
	return nil
}
