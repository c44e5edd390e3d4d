package web

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
)

// FuzzNormalizeCode reads arbitrary text as a support code typed into the
// public portal or the desk: normalizeCode never panics, accepts at most 32
// bytes, returns six ASCII digits that are the input without its dashes
// and white space, and accepts what it returns as itself.
func FuzzNormalizeCode(f *testing.F) {
	for _, seed := range []string{"042917", "042-917", " 04 29 17 ", "0\u00a04\u20022917", "04291", "0429170",
		"٠٤٢٩١٧", "０４２９１７", "04291a", "-----042917-----", "042917" + strings.Repeat(" ", 27), ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, ok := normalizeCode(s)
		if !ok {
			if code != "" {
				t.Fatalf("normalizeCode(%q) refused with %q", s, code)
			}
			return
		}
		if len(s) > 32 {
			t.Fatalf("normalizeCode accepted %d bytes", len(s))
		}
		if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
			t.Fatalf("normalizeCode(%q) = %q, not six digits", s, code)
		}
		if stripped := strings.Map(func(r rune) rune {
			if r == '-' || unicode.IsSpace(r) {
				return -1
			}
			return r
		}, s); stripped != code {
			t.Fatalf("normalizeCode(%q) = %q, not the input without dashes and spaces (%q)", s, code, stripped)
		}
		if again, ok := normalizeCode(code); !ok || again != code {
			t.Fatalf("normalizeCode(%q) = %q, %v", code, again, ok)
		}
	})
}

// FuzzFilter reads an arbitrary query string as the Access view's URL: a
// filter it validates survives the view's own links (queryAt) unchanged,
// page and open machine included.
func FuzzFilter(f *testing.F) {
	for _, seed := range []string{"", "q=pc&dim=company&value=acme&smart=online", "q=+a+b+&m=dev-1&page=3",
		"dim=site&value=(none)", "value=x", "dim=nope", "smart=nope", "q=%00", "q=a;b&q=c", "page=-1", "q=%zz"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		fl := filterFrom(q)
		if fl.Validate() != nil {
			return
		}
		if strings.TrimSpace(fl.Query) != fl.Query {
			t.Fatalf("query %q is not trimmed", fl.Query)
		}
		for _, page := range []int{1, 2} {
			link := queryAt(fl, q.Get("m"), page)
			u, err := url.Parse(link)
			if err != nil || u.Path != "/machines" {
				t.Fatalf("queryAt(%+v) = %q: %v", fl, link, err)
			}
			back := u.Query()
			if got := filterFrom(back); got != fl {
				t.Fatalf("filter %+v links to %q, which reads as %+v", fl, link, got)
			}
			if back.Get("m") != q.Get("m") {
				t.Fatalf("open machine %q links to %q", q.Get("m"), link)
			}
			if wantPage := map[int]string{1: "", 2: "2"}[page]; back.Get("page") != wantPage {
				t.Fatalf("page %d links to %q", page, link)
			}
		}
	})
}
