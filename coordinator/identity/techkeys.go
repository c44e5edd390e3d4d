package identity

import (
	"fmt"
	"strconv"

	"github.com/peerdesk/peerdesk/coordinator/store"
)

// OverlayKeysOf lists the overlay pre-auth key ids recorded for user
// (RecordOverlayKey): what to revoke (overlay.Server.RevokeAuthKey) when
// the technician is disabled, deleted or logged out everywhere, so their
// viewer nodes leave the overlay and unused keys cannot join.
func (a *Accounts) OverlayKeysOf(user string) ([]uint64, error) {
	var ids []uint64
	err := a.db.View(func(tx store.Tx) error {
		return tx.Scan(nsTechKey, "", func(k string, v []byte) error {
			var r techKey
			if err := store.Decode(v, &r); err != nil {
				return fmt.Errorf("%w: overlay key %s: %w", ErrCorrupt, k, err)
			}
			if r.User != user {
				return nil
			}
			id, err := strconv.ParseUint(k, 10, 64)
			if err != nil {
				return fmt.Errorf("%w: overlay key id %q", ErrCorrupt, k)
			}
			ids = append(ids, id)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("identity.OverlayKeysOf: %w", err)
	}
	return ids, nil
}

// ForgetOverlayKey drops the record of overlay key id (once revoked).
func (a *Accounts) ForgetOverlayKey(id uint64) error {
	return a.db.Update(func(tx store.Tx) error { return tx.Delete(nsTechKey, strconv.FormatUint(id, 10)) })
}
