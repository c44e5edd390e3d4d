// Package style is the one stylesheet of every peerdesk page — the
// coordinator's dashboard and portal, the end user's page of the agent and
// the technician's viewer — so that they look like one product.
//
// Each program serves it with Handler at Path: the same path everywhere,
// named by a hash of its bytes, so a browser may keep it for a year and a
// new build is fetched at once. The pages link it and carry no inline
// style, so their Content-Security-Policy allows styles from 'self' only
// (Policy is the directive to use).
//
// # Branding
//
// peerdesk.css begins with the shop's hook: CSS variables for the accent
// (and its dark-scheme variant), its text and the danger colour, and a logo slot (--logo, a data: URL, and
// --logo-width, 0 to hide it) shown before the product name in the
// dashboard's, the portal's and the viewer's header. A shop edits that
// block and rebuilds.
package style

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"strconv"
)

//go:embed peerdesk.css
var css []byte

var sum = sha256.Sum256(css)

// Path is where every program serves the stylesheet and where pages link
// it: /static/peerdesk.<hash>.css.
var Path = "/static/peerdesk." + hex.EncodeToString(sum[:6]) + ".css"

// Policy is the Content-Security-Policy directives the pages need for
// it: the stylesheet from the page's own origin, and a logo as a data: URL.
const Policy = "style-src 'self'; img-src 'self' data:"

// CSS returns a copy of the stylesheet's bytes.
func CSS() []byte { return append([]byte(nil), css...) }

// Handler serves the stylesheet (GET and HEAD) with a long, immutable
// cache: its path changes with its content. It overrides a no-store that
// a program's wrapper set.
func Handler() http.Handler {
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/css; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("ETag", etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(css)))
		if r.Method == http.MethodHead {
			return
		}
		w.Write(css) //nolint:errcheck // client gone
	})
}
