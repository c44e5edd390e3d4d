// Package state keeps an enrolled agent's identity on disk: which
// coordinator it belongs to and how it trusts it, its device credentials,
// and the key that verifies session grants. The overlay node keeps its own
// WireGuard state in a subdirectory.
//
// The directory holds secrets (the device secret, the node's keys), so it is
// private to the agent (H2): Save makes it so (Protect: mode 0700 and a 0600
// file on Linux and macOS; on Windows a protected access list for SYSTEM and
// Administrators only, StateDirSDDL, instead of ProgramData's "Users may
// read"), and Load refuses a directory others can reach (Check), so an agent
// does not start on an exposed or foreign state.
package state

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/wire"
	"tailscale.com/atomicfile"
)

const fileName = "agent.json"

// ErrNotEnrolled is returned by Load when the agent has not enrolled.
var ErrNotEnrolled = errors.New("state: agent is not enrolled; run enroll first")

// State is an enrolled agent's identity.
type State struct {
	CoordinatorURL string `json:"coordinator_url"`
	CAPEM          []byte `json:"ca_pem"`
	DeviceID       string `json:"device_id"`
	DeviceSecret   string `json:"device_secret"`
	GrantKey       []byte `json:"grant_key"` // ed25519 public key
	AuthKey        string `json:"auth_key,omitempty"`
	Hostname       string `json:"hostname"`
	// Metadata files the machine (U4): set at enrollment, changed with
	// `peerdesk-agent reconfigure`, reported with the inventory.
	Metadata wire.Metadata `json:"metadata"`
}

// CA parses the pinned coordinator CA.
func (s *State) CA() (*x509.Certificate, error) { return trust.ParseCA(s.CAPEM) }

// GrantPublicKey is the key grants must be signed with.
func (s *State) GrantPublicKey() (ed25519.PublicKey, error) {
	if len(s.GrantKey) != ed25519.PublicKeySize {
		return nil, errors.New("state: grant key has the wrong size")
	}
	return ed25519.PublicKey(s.GrantKey), nil
}

// NodeDir is where the overlay node keeps its state.
func NodeDir(dir string) string { return filepath.Join(dir, "node") }

// Load reads the state from dir. It refuses (ErrNotPrivate) a state that
// someone but the agent's account and the administrators can reach: see
// Check.
func Load(dir string) (*State, error) {
	path := filepath.Join(dir, fileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, fmt.Errorf("state.Load: %w", err)
	}
	if err := check(dir); err != nil {
		return nil, fmt.Errorf("state.Load: %w", err)
	}
	s, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("state.Load: %s: %w", path, err)
	}
	return s, nil
}

// Decode parses a state file's contents. It refuses anything that is not a
// JSON state object, and a state that names no device or coordinator.
func Decode(b []byte) (*State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("state.Decode: the state is damaged: %w", err)
	}
	if s.DeviceID == "" || s.CoordinatorURL == "" {
		return nil, errors.New("state.Decode: the state is incomplete: no device id or coordinator URL")
	}
	return &s, nil
}

// Encode is the state file's contents for s, which Decode reads back.
func Encode(s *State) ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("state.Encode: %w", err)
	}
	return b, nil
}

// Save writes s to dir atomically (mode 0600): a crash leaves either the
// old file or the new one, never half of one. It first makes dir private
// (Protect), creating it if needed.
func Save(dir string, s *State) error {
	if err := protect(dir); err != nil {
		return fmt.Errorf("state.Save: %w", err)
	}
	b, err := Encode(s)
	if err != nil {
		return fmt.Errorf("state.Save: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, fileName), b, 0o600); err != nil {
		return fmt.Errorf("state.Save: %w", err)
	}
	return nil
}

// Exists reports whether dir holds an enrolled agent's state.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, fileName))
	return err == nil
}
