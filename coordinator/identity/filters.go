package identity

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/peerdesk/peerdesk/coordinator/store"
)

const nsFilter = "filter"

// SavedFilter is a named Access-view filter of one account, kept as the
// view's query string (the web layer validates it before saving).
type SavedFilter struct {
	Name  string `json:"name"`
	Query string `json:"query"`
}

// Bounds on saved filters.
const (
	MaxFilters     = 50
	MaxFilterName  = 64
	MaxFilterQuery = 512
)

const filterKeySep = "\x1f" // between the user and the filter name in a key (names never hold it)

// ErrTooManyFilters is returned when an account already keeps MaxFilters.
var ErrTooManyFilters = errors.New("identity: too many saved filters")

// SaveFilter stores (or replaces) user's filter called f.Name.
func (a *Accounts) SaveFilter(user string, f SavedFilter) error {
	f.Name = strings.TrimSpace(f.Name)
	if f.Name == "" || len(f.Name) > MaxFilterName || strings.ContainsFunc(f.Name, unicode.IsControl) {
		return fmt.Errorf("identity: a filter name is 1..%d printable characters", MaxFilterName)
	}
	if len(f.Query) > MaxFilterQuery {
		return fmt.Errorf("identity: a filter is at most %d bytes", MaxFilterQuery)
	}
	return a.db.Update(func(tx store.Tx) error {
		existing, err := store.All[SavedFilter](tx, nsFilter, user+filterKeySep)
		if err != nil {
			return err
		}
		replacing := false
		for _, e := range existing {
			replacing = replacing || e.Name == f.Name
		}
		if !replacing && len(existing) >= MaxFilters {
			return ErrTooManyFilters
		}
		return tx.Put(nsFilter, user+filterKeySep+f.Name, f)
	})
}

// Filters returns user's saved filters by name.
func (a *Accounts) Filters(user string) ([]SavedFilter, error) {
	var out []SavedFilter
	err := a.db.View(func(tx store.Tx) error {
		var err error
		out, err = store.All[SavedFilter](tx, nsFilter, user+filterKeySep)
		return err
	})
	return out, err
}
