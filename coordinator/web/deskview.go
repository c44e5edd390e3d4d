package web

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"

	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/policy"
	templates "github.com/peerdesk/peerdesk/templates/dashboard"
	"github.com/peerdesk/peerdesk/wire"
)

// maxEnded bounds the Ended list.
const maxEnded = 20

// boardView sorts the desk's board — already only what the technician may
// see — for one technician: their open sessions, the others' and
// unclaimed ones, the waiting codes, the end users' requests, and recently
// ended sessions. Connect and End appear only where the desk would allow
// them.
func (s *server) boardView(b wire.SupportBoard, sess session) templates.BoardView {
	me, admin := sess.User, policy.Allow(sess.Role, policy.ActionOthersSessions) == nil
	v := templates.BoardView{CSRF: sess.nav.CSRF}
	for _, ss := range b.Sessions {
		if ss.State != support.Open {
			v.Ended = append(v.Ended, templates.EndedRow{
				Code: ss.Code, Hostname: ss.Hostname, Technician: ss.Technician, Created: ss.Created, Ended: ss.Ended,
			})
			continue
		}
		row := templates.SessionRow{
			ID: ss.ID, Code: ss.Code, Hostname: ss.Hostname, OS: ss.OS, Technician: ss.Technician,
			OneTime: ss.OneTime, OverlayIP: ss.OverlayIP, Overlay: ss.Overlay, Created: ss.Created,
		}
		mayWork := ss.Technician == me || ss.Technician == ""
		if mayWork {
			row.ConnectURL = s.connectURL(ss.ID)
		}
		row.CanEnd = mayWork || admin
		if ss.Technician == me {
			v.Mine = append(v.Mine, row)
		} else {
			v.Team = append(v.Team, row)
		}
	}
	for _, c := range b.Codes {
		if c.State != support.Waiting {
			continue
		}
		switch c.Kind {
		case support.KindRequest:
			v.Requests = append(v.Requests, templates.RequestRow{Code: c.Code, Hostname: c.Hostname, Created: c.Created, Expires: c.Expires})
		case support.KindTechnician:
			mine := c.Assignee == me
			if !mine && c.Assignee != "" && !admin {
				continue // another technician's own code
			}
			v.Pending = append(v.Pending, templates.PendingCode{
				Code: c.Code, Assignee: c.Assignee, Mine: mine, Created: c.Created, Expires: c.Expires,
				CanCancel: mine || c.Assignee == "" || admin,
			})
		}
	}
	newest := func(a, b templates.SessionRow) int {
		return cmp.Or(b.Created.Compare(a.Created), cmp.Compare(a.ID, b.ID))
	}
	slices.SortFunc(v.Mine, newest)
	slices.SortFunc(v.Team, newest)
	slices.SortFunc(v.Pending, func(a, b templates.PendingCode) int {
		return cmp.Or(b.Created.Compare(a.Created), cmp.Compare(a.Code, b.Code))
	})
	// Requests are a queue: the longest waiting first.
	slices.SortFunc(v.Requests, func(a, b templates.RequestRow) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.Code, b.Code))
	})
	slices.SortFunc(v.Ended, func(a, b templates.EndedRow) int {
		return cmp.Or(b.Ended.Compare(a.Ended), cmp.Compare(a.Code, b.Code))
	})
	if len(v.Ended) > maxEnded {
		v.Ended = v.Ended[:maxEnded]
	}
	return v
}

// renderBoard renders the board as the page and the live stream show it,
// and names the rendering by a hash of it: equal versions, equal boards.
func renderBoard(ctx context.Context, v templates.BoardView) (string, string, error) {
	var buf bytes.Buffer
	if err := templates.SupportBoard(v).Render(ctx, &buf); err != nil {
		return "", "", err
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.String(), hex.EncodeToString(sum[:12]), nil
}
