package webui

import (
	"net/http/httptest"
	"testing"
)

// A session page reached from another site must wait for a click; only the
// page's own links and typed addresses connect at once.
func TestCrossSite(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		header string
		cross  bool
	}{
		{"same-origin", false},
		{"none", false},
		{"same-site", true},
		{"cross-site", true},
		{"", true},
		{"garbage", true},
	} {
		r := httptest.NewRequest("GET", "http://127.0.0.1:7071/session/ses-1", nil)
		if c.header != "" {
			r.Header.Set("Sec-Fetch-Site", c.header)
		}
		if got := crossSite(r); got != c.cross {
			t.Errorf("Sec-Fetch-Site %q: crossSite = %v, want %v", c.header, got, c.cross)
		}
	}
}
