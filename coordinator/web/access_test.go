package web

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

func accessFake() *fakeBackend {
	f := newFake()
	md := func(company, site, typ string) wire.Metadata {
		return wire.Metadata{Company: company, Site: site, DeviceType: typ}
	}
	f.devices = []wire.Device{
		{ID: "dev-1", Hostname: "acme-lt1", OS: "linux", Online: true, LastSeen: t0,
			Inventory: &wire.Inventory{Platform: "debian", Serial: "SN-1", LoggedOnUser: "jane", Metadata: md("Acme", "Berlin", "laptop"),
				LastBoot: t0.Add(-5 * time.Minute)}},
		{ID: "dev-2", Hostname: "acme-srv", OS: "linux", LastSeen: t0.Add(-40 * 24 * time.Hour),
			Inventory: &wire.Inventory{Platform: "debian", Serial: "SN-2", Metadata: md("Acme", "Paris", "server")}},
		{ID: "dev-3", Hostname: "globex-1", OS: "windows", Online: true, LastSeen: t0,
			Inventory: &wire.Inventory{Platform: "Windows 11", Serial: "SN-3", Metadata: md("Globex", "Berlin", "laptop")}},
	}
	return f
}

var countRE = regexp.MustCompile(`(?s)<a href="([^"]*)"[^>]*>([^<]*)</a>\s*<span class="count">(\d+)</span>`)

// groupCounts reads the sidebar: label → count, and label → link.
func groupCounts(body string) (map[string]string, map[string]string) {
	counts, links := map[string]string{}, map[string]string{}
	for _, m := range countRE.FindAllStringSubmatch(body, -1) {
		counts[m[2]], links[m[2]] = m[3], strings.ReplaceAll(m[1], "&amp;", "&")
	}
	return counts, links
}

func TestAccessView(t *testing.T) {
	f := accessFake()
	b := newBrowser(t, f)
	b.login("bob")
	resp, body := b.do("GET", "/machines", nil)
	wantStatus(t, "GET /machines", resp, http.StatusOK)
	counts, links := groupCounts(body)
	for label, want := range map[string]string{"Acme": "2", "Globex": "1", "Berlin": "2", "Paris": "1", "laptop": "2", "server": "1",
		"Online": "2", "Offline 30 days": "1", "Powered on in the last 10 min": "1", "Offline 1 year": "0"} {
		if counts[label] != want {
			t.Errorf("sidebar %q = %q, want %q", label, counts[label], want)
		}
	}
	if !strings.Contains(body, "3 machines of 3 machines") {
		t.Error("the list does not say how many machines it shows")
	}

	// A group narrows the list; a search counts within itself.
	_, body = b.do("GET", links["Acme"], nil)
	if !strings.Contains(body, "acme-lt1") || !strings.Contains(body, "acme-srv") || strings.Contains(body, `id="machine-dev-3"`) {
		t.Error("the Acme group does not show exactly Acme's machines")
	}
	_, body = b.do("GET", "/machines?q=sn-3", nil)
	if !strings.Contains(body, `id="machine-dev-3"`) || strings.Contains(body, `id="machine-dev-1"`) {
		t.Error("searching a serial number does not find exactly its machine")
	}
	if c, _ := groupCounts(body); c["Globex"] != "1" || c["Acme"] != "" {
		t.Errorf("group counts within a search: %v", c)
	}
	resp, _ = b.do("GET", "/machines?smart=sleepy", nil)
	wantStatus(t, "unknown smart group", resp, http.StatusBadRequest)

	// The panel: every field, Connect; Wake only for offline machines.
	_, body = b.do("GET", "/machines?m=dev-2", nil)
	for _, want := range []string{`id="panel"`, "SN-2", "Paris", `href="http://127.0.0.1:7071/device/dev-2"`, `href="http://127.0.0.1:7071/wake/dev-2"`} {
		if !strings.Contains(body, want) {
			t.Errorf("panel of an offline machine lacks %s", want)
		}
	}
	if _, body = b.do("GET", "/machines?m=dev-1", nil); strings.Contains(body, `id="wake"`) {
		t.Error("an online machine offers Wake")
	}

	// Saved filters: with the CSRF token only, then listed with a count.
	resp, _ = b.do("POST", "/machines/filters", url.Values{"name": {"Berlin laptops"}, "dim": {"site"}, "value": {"Berlin"}})
	wantStatus(t, "save without the token", resp, http.StatusForbidden)
	form := url.Values{"csrf": {b.csrf("/machines")}, "name": {"Berlin laptops"}, "dim": {"site"}, "value": {"Berlin"}, "q": {"laptop"}}
	resp, _ = b.do("POST", "/machines/filters", form)
	wantStatus(t, "save", resp, http.StatusSeeOther)
	_, body = b.do("GET", "/machines", nil)
	if c, l := groupCounts(body); c["Berlin laptops"] != "2" || !strings.Contains(l["Berlin laptops"], "dim=site") {
		t.Errorf("saved filter shown as %q → %q", c["Berlin laptops"], l["Berlin laptops"])
	}
}

func TestAccessViewScope(t *testing.T) {
	f := accessFake()
	f.scopes = map[string][]string{"bob": {"Globex"}}
	b := newBrowser(t, f)
	b.login("bob")
	_, body := b.do("GET", "/machines", nil)
	if strings.Contains(body, "acme-") || !strings.Contains(body, "globex-1") {
		t.Error("a Globex technician sees Acme's machines")
	}
	if _, body = b.do("GET", "/machines?m=dev-1", nil); strings.Contains(body, `id="panel"`) {
		t.Error("a machine out of scope opens its panel")
	}
}

// TestAccessPaging: 250 matching machines are listed 100 to a page, in a
// stable order, with links between pages that keep the filter; a page
// past the end shows the last; a malformed page is refused.
func TestAccessPaging(t *testing.T) {
	f := newFake()
	f.devices = nil
	for i := range 250 {
		company := "Acme"
		if i%5 == 0 {
			company = "Globex"
		}
		f.devices = append(f.devices, wire.Device{ID: fmt.Sprintf("dev-%03d", i), Hostname: fmt.Sprintf("pc-%03d", i), OS: "linux",
			Online: true, LastSeen: t0, Inventory: &wire.Inventory{Metadata: wire.Metadata{Company: company}}})
	}
	b := newBrowser(t, f)
	b.login("bob")
	rows := regexp.MustCompile(`id="machine-(dev-\d+)"`)
	seen := map[string]bool{}
	next := "/machines"
	for page := 1; next != ""; page++ {
		resp, body := b.do("GET", next, nil)
		wantStatus(t, next, resp, http.StatusOK)
		ids := rows.FindAllStringSubmatch(body, -1)
		want := 100
		if page == 3 {
			want = 50
		}
		if len(ids) != want {
			t.Fatalf("page %d lists %d machines, want %d", page, len(ids), want)
		}
		for _, id := range ids {
			if seen[id[1]] {
				t.Fatalf("%s is on two pages", id[1])
			}
			seen[id[1]] = true
		}
		if !strings.Contains(body, "250 machines of 250 machines") || !strings.Contains(body, fmt.Sprintf("page %d of 3", page)) {
			t.Errorf("page %d (%s) does not say where it is", page, next)
		}
		next = ""
		if m := regexp.MustCompile(`href="([^"]*)" rel="next"`).FindStringSubmatch(body); m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
		if page > 3 {
			t.Fatal("more than three pages")
		}
	}
	if len(seen) != 250 {
		t.Fatalf("the pages list %d machines, want 250", len(seen))
	}
	// A filter is kept from page to page: Globex has 50, one page.
	_, body := b.do("GET", "/machines?dim=company&value=Globex", nil)
	if n := len(rows.FindAllString(body, -1)); n != 50 || strings.Contains(body, `id="pages"`) {
		t.Errorf("Globex: %d rows, paging shown %v", n, strings.Contains(body, `id="pages"`))
	}
	_, body = b.do("GET", "/machines?dim=company&value=Acme&page=2", nil)
	if !strings.Contains(body, `href="/machines?dim=company&amp;page=1`) && !strings.Contains(body, `rel="prev"`) {
		t.Error("page 2 of Acme has no way back")
	}
	if n := len(rows.FindAllString(body, -1)); n != 100 {
		t.Errorf("Acme page 2 lists %d, want 100 (200 Acme machines)", n)
	}
	_, body = b.do("GET", "/machines?page=99", nil)
	if !strings.Contains(body, "page 3 of 3") {
		t.Error("a page past the end does not show the last")
	}
	for _, bad := range []string{"0", "-1", "two", "99999999999"} {
		resp, _ := b.do("GET", "/machines?page="+bad, nil)
		wantStatus(t, "page "+bad, resp, http.StatusBadRequest)
	}
}
