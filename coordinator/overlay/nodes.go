package overlay

import (
	"cmp"
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
	exp := s.now().Add(o.TTL)
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

// DeleteNode removes a node from the overlay: Headscale forgets it, its
// peers are told at once (they drop it from their maps and WireGuard
// configurations within a map update), and its relayed DERP connections
// end; it is refused if it comes back to the relay.
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
	s.relay.end(v.NodeKey())
	return nil
}

// AuthKeyInfo describes a stored pre-auth key (never its secret).
type AuthKeyInfo struct {
	ID        uint64
	Tags      []string
	Reusable  bool
	Ephemeral bool
	Used      bool
	Created   time.Time
	Expires   time.Time
}

// AuthKeys lists the stored pre-auth keys, by id.
func (s *Server) AuthKeys() ([]AuthKeyInfo, error) {
	keys, err := s.hs.GetState().ListPreAuthKeys()
	if err != nil {
		return nil, fmt.Errorf("overlay.AuthKeys: %w", err)
	}
	out := make([]AuthKeyInfo, 0, len(keys))
	for _, k := range keys {
		i := AuthKeyInfo{ID: k.ID, Tags: slices.Clone(k.Tags), Reusable: k.Reusable, Ephemeral: k.Ephemeral, Used: k.Used}
		if k.CreatedAt != nil {
			i.Created = *k.CreatedAt
		}
		if k.Expiration != nil {
			i.Expires = *k.Expiration
		}
		out = append(out, i)
	}
	slices.SortFunc(out, func(a, b AuthKeyInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// DeleteAuthKey deletes a pre-auth key, so nothing can join with it any
// more; nodes that already joined with it stay (RevokeAuthKey removes
// them too). Deleting a key that does not exist is not an error.
func (s *Server) DeleteAuthKey(id uint64) error {
	if err := s.hs.GetState().DeletePreAuthKey(id); err != nil {
		return fmt.Errorf("overlay.DeleteAuthKey: %w", err)
	}
	return nil
}

// RevokeAuthKey removes from the overlay every node that joined with
// pre-auth key id (as DeleteNode does), then the key itself: what a
// removed or reset device leaves behind. It returns how many nodes it
// deleted.
func (s *Server) RevokeAuthKey(id uint64) (int, error) {
	if id == 0 {
		return 0, errors.New("overlay.RevokeAuthKey: no key id")
	}
	var n int
	var errs []error
	for _, node := range s.Nodes() {
		if node.AuthKeyID != id {
			continue
		}
		switch err := s.DeleteNode(node.ID); {
		case err == nil:
			n++
		case !errors.Is(err, ErrNotFound): // gone meanwhile: fine
			errs = append(errs, err)
		}
	}
	if err := s.DeleteAuthKey(id); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("overlay.RevokeAuthKey: %w", err)
	}
	return n, nil
}

// pruneGrace is how long past its expiry a key is kept: no join with it
// can still be on its way.
const pruneGrace = time.Minute

// PruneAuthKeys deletes the pre-auth keys that have expired and that no
// node joined with: keys minted for an enrollment, login or support
// session that never came (L1). A key a node joined with is kept while
// the node exists (grants look the node's technician up by it). It
// returns how many keys it deleted.
func (s *Server) PruneAuthKeys() (int, error) {
	keys, err := s.AuthKeys()
	if err != nil {
		return 0, fmt.Errorf("overlay.PruneAuthKeys: %w", err)
	}
	held := make(map[uint64]bool)
	for _, n := range s.Nodes() {
		held[n.AuthKeyID] = true
	}
	cutoff := s.now().Add(-pruneGrace)
	var n int
	var errs []error
	for _, k := range keys {
		if held[k.ID] || k.Expires.IsZero() || k.Expires.After(cutoff) {
			continue
		}
		if err := s.DeleteAuthKey(k.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("overlay.PruneAuthKeys: %w", err)
	}
	return n, nil
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
