package web

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/enroll"
	templates "github.com/peerdesk/peerdesk/templates/dashboard"
)

// ago says how long ago something happened, coarsely.
func ago(d time.Duration) string {
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
}

// tokenRows turns stored tokens into list rows, newest first; the secret's
// hash is left behind.
func tokenRows(list []enroll.Token, now time.Time) []templates.TokenRow {
	out := make([]templates.TokenRow, 0, len(list))
	for _, t := range list {
		out = append(out, templates.TokenRow{
			ID: t.ID, Note: t.Note, CreatedBy: t.CreatedBy, Created: t.Created, Expires: t.Expires,
			Expired: !now.Before(t.Expires), UsedAt: t.UsedAt, UsedBy: t.UsedBy,
		})
	}
	slices.SortFunc(out, func(a, b templates.TokenRow) int {
		return cmp.Or(b.Created.Compare(a.Created), cmp.Compare(a.ID, b.ID))
	})
	return out
}

func hexRandom(n int) string { return hex.EncodeToString(randomBytes(n)) }

func isLowerHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}
