package overlay

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/juanfont/headscale/hscontrol/types"
)

// AuthKey is a pre-auth key that lets one node join the overlay.
type AuthKey struct {
	ID  uint64
	Key string // secret; hand to exactly one node
}

// KeyOptions shape a pre-auth key.
type KeyOptions struct {
	Tags      []string      // the node's tags, e.g. wire.TagAgent
	Ephemeral bool          // the node is deleted once it has been offline a while
	Reusable  bool          // more than one node may join with it
	TTL       time.Duration // how long the key may be used; zero means 1 hour
}

// CreateAuthKey makes a tagged pre-auth key.
func (s *Server) CreateAuthKey(o KeyOptions) (AuthKey, error) {
	if len(o.Tags) == 0 {
		return AuthKey{}, errors.New("overlay.CreateAuthKey: a tag is required")
	}
	if o.TTL == 0 {
		o.TTL = time.Hour
	}
	exp := time.Now().Add(o.TTL)
	k, err := s.hs.GetState().CreatePreAuthKey(nil, o.Reusable, o.Ephemeral, &exp, o.Tags)
	if err != nil {
		return AuthKey{}, fmt.Errorf("overlay.CreateAuthKey: %w", err)
	}
	return AuthKey{ID: k.ID, Key: k.Key}, nil
}

// Node is one overlay member as the control plane knows it.
type Node struct {
	ID        uint64
	Name      string // host name the node reported
	NodeKey   string // "nodekey:<hex>"
	Tags      []string
	IPv4      netip.Addr
	Online    bool
	LastSeen  time.Time
	AuthKeyID uint64 // the pre-auth key it joined with; 0 if none
	Ephemeral bool
}

// Nodes lists every node.
func (s *Server) Nodes() []Node {
	views := s.hs.GetState().ListNodes()
	out := make([]Node, 0, views.Len())
	for _, v := range views.All() {
		out = append(out, nodeFrom(v))
	}
	slices.SortFunc(out, func(a, b Node) int { return int(a.ID) - int(b.ID) })
	return out
}

// NodeByKey finds the node with WireGuard key nodeKey ("nodekey:<hex>").
func (s *Server) NodeByKey(nodeKey string) (Node, error) {
	for _, n := range s.Nodes() {
		if n.NodeKey == nodeKey {
			return n, nil
		}
	}
	return Node{}, ErrNotFound
}

// DeleteNode removes a node from the overlay; its peers are told at once.
func (s *Server) DeleteNode(id uint64) error {
	st := s.hs.GetState()
	v, ok := st.GetNodeByID(types.NodeID(id))
	if !ok {
		return ErrNotFound
	}
	c, err := st.DeleteNode(v)
	if err != nil {
		return fmt.Errorf("overlay.DeleteNode: %w", err)
	}
	s.hs.Change(c)
	return nil
}

func nodeFrom(v types.NodeView) Node {
	n := Node{
		ID:      uint64(v.ID()),
		Name:    v.Hostname(),
		NodeKey: v.NodeKey().String(),
		Tags:    v.Tags().AsSlice(),
	}
	if ip := v.IPv4(); ip.Valid() {
		n.IPv4 = ip.Get()
	}
	if on := v.IsOnline(); on.Valid() {
		n.Online = on.Get()
	}
	if ls := v.LastSeen(); ls.Valid() {
		n.LastSeen = ls.Get()
	}
	if ak := v.AuthKeyID(); ak.Valid() {
		n.AuthKeyID = ak.Get()
	}
	if k := v.AuthKey(); k.Valid() {
		n.Ephemeral = k.Ephemeral()
	}
	return n
}

// SetPolicy replaces the overlay ACL and tells every node.
func (s *Server) SetPolicy(policy []byte) error {
	if err := s.setPolicy(policy); err != nil {
		return err
	}
	changes, err := s.hs.GetState().ReloadPolicy()
	if err != nil {
		return fmt.Errorf("overlay.SetPolicy: %w", err)
	}
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started && len(changes) > 0 {
		s.hs.Change(changes...)
	}
	return nil
}

func (s *Server) setPolicy(policy []byte) error {
	st := s.hs.GetState()
	if _, err := st.SetPolicy(policy); err != nil {
		return fmt.Errorf("overlay: policy: %w", err)
	}
	if _, err := st.SetPolicyInDB(string(policy)); err != nil {
		return fmt.Errorf("overlay: policy: %w", err)
	}
	return nil
}
