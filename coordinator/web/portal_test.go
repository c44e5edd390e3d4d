package web

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/supportpack"
	"github.com/peerdesk/peerdesk/wire"
)

const (
	uaLinuxChrome  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaWindowsEdge  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
	uaWindowsFF    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	uaMacSafari    = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"
	uaLinuxArmFF   = "Mozilla/5.0 (X11; Linux aarch64; rv:133.0) Gecko/20100101 Firefox/133.0"
	uaAndroidPhone = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
)

func TestPortalForm(t *testing.T) {
	b := newSupportBrowser(t, supportConfig(newFake(), newFakeDesk(), ""))
	resp, body := b.do("GET", "/support", nil)
	wantStatus(t, "GET /support", resp, http.StatusOK)
	for _, want := range []string{
		"Enter the code your technician gave you", `inputmode="numeric"`, `autocomplete="one-time-code"`,
		`method="post" action="/support"`, `name="code"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("portal form lacks %q", want)
		}
	}
	if !csrfField.MatchString(body) {
		t.Error("the portal form has no CSRF token")
	}
	if strings.Contains(body, "Log out") || strings.Contains(body, `href="/machines"`) {
		t.Error("the public portal shows the technicians' navigation")
	}
	c := b.cookies[portalCookie]
	if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/support" {
		t.Errorf("portal cookie: %+v", c)
	}

	for _, tc := range []struct{ query, want string }{
		{"?code=123456", `value="123456"`},
		{"?code=123+456", `value="123456"`},
		{"?code=%22%3E%3Cscript%3E", `value=""`},
		{"?code=1234567", `value=""`},
	} {
		_, body := b.do("GET", "/support"+tc.query, nil)
		if !strings.Contains(body, tc.want) || strings.Contains(body, "<script>") {
			t.Errorf("GET /support%s: the code field is not %s", tc.query, tc.want)
		}
	}
}

func TestPortalCodeRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, typed string
		err         error
		status      int
		msg         string
	}{
		{"wrong", "654321", nil, http.StatusNotFound, "No such support code."},
		{"used", "111112", support.ErrUsed, http.StatusConflict, "This support code has already been used."},
		{"cancelled", "111113", support.ErrCancelled, http.StatusGone, "This support code was cancelled."},
		{"expired", "111114", support.ErrExpired, http.StatusGone, "This support code has expired."},
		{"rate limited", "111115", errRate, http.StatusTooManyRequests, "Too many attempts; try again later."},
		{"internal", "111116", errors.New("store: disk on fire"), http.StatusInternalServerError, msgCodeFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newFakeDesk()
			d.errs[tc.typed] = tc.err
			b := newSupportBrowser(t, supportConfig(newFake(), d, binariesDir(t)))
			resp, body := b.do("POST", "/support", url.Values{"csrf": {b.csrf("/support")}, "code": {tc.typed}})
			wantStatus(t, "POST /support", resp, tc.status)
			if !strings.Contains(body, tc.msg) || !strings.Contains(body, `class="error"`) {
				t.Errorf("page lacks %q:\n%s", tc.msg, body)
			}
			if strings.Contains(body, "disk on fire") || strings.Contains(body, "peerdesk://") || strings.Contains(body, "/support/download/") {
				t.Error("a refused code shows more than the message")
			}
			if !csrfField.MatchString(body) {
				t.Error("the re-rendered form has no CSRF token")
			}
			if diff := cmp.Diff([]string{"192.0.2.1 " + tc.typed}, d.Checks()); diff != "" {
				t.Errorf("CheckCode calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPortalFormChecks(t *testing.T) {
	d := newFakeDesk()
	b := newSupportBrowser(t, supportConfig(newFake(), d, ""))
	csrf := b.csrf("/support")
	for _, form := range []url.Values{
		{"code": {goodCode}},
		{"csrf": {strings.Repeat("0", 64)}, "code": {goodCode}},
	} {
		resp, body := b.do("POST", "/support", form)
		wantStatus(t, "POST /support with CSRF "+form.Get("csrf"), resp, http.StatusForbidden)
		if !strings.Contains(body, msgPortalExpired) {
			t.Errorf("page lacks %q", msgPortalExpired)
		}
	}
	// The login form's token is no portal token, nor is another browser's.
	other := newSupportBrowser(t, supportConfig(newFake(), d, ""))
	other.h = b.h
	resp, _ := other.do("POST", "/support", url.Values{"csrf": {csrf}, "code": {goodCode}})
	wantStatus(t, "another browser's token", resp, http.StatusForbidden)
	resp, _ = b.do("POST", "/support", url.Values{"csrf": {b.csrf("/login")}, "code": {goodCode}})
	wantStatus(t, "the login form's token", resp, http.StatusForbidden)

	csrf = b.csrf("/support")
	for _, typed := range []string{"", "12345", "1234567", "12a456", "１２３４５６"} {
		resp, body := b.do("POST", "/support", url.Values{"csrf": {csrf}, "code": {typed}})
		wantStatus(t, "code "+typed, resp, http.StatusBadRequest)
		if !strings.Contains(body, msgCodeDigits) {
			t.Errorf("code %q: page lacks %q", typed, msgCodeDigits)
		}
	}
	if len(d.Checks()) != 0 {
		t.Fatalf("refused forms reached CheckCode: %q", d.Checks())
	}
	resp, _ = b.send("POST", "/support", strings.NewReader("csrf="+csrf+"&code="+strings.Repeat("1", maxForm)))
	wantStatus(t, "oversize form", resp, http.StatusRequestEntityTooLarge)
	// People type codes as they hear them.
	resp, _ = b.do("POST", "/support", url.Values{"csrf": {csrf}, "code": {" 123 45-6 "}})
	wantRedirect(t, "spaced code", resp, readyPath)
	if diff := cmp.Diff([]string{"192.0.2.1 123456"}, d.Checks()); diff != "" {
		t.Errorf("CheckCode calls (-want +got):\n%s", diff)
	}
}

var downloadLink = regexp.MustCompile(`href="(/support/download/[^"]+)"`)

// TestPortalReady checks the ready page leads with the download for the
// visitor's system, gives the steps for the visitor's browser and system
// (the others behind a details), and offers the installed agent second.
func TestPortalReady(t *testing.T) {
	for _, tc := range []struct {
		name string
		hdr  []string // request headers, name then value
		// links are the download links in order; steps must be in the
		// visible steps, notSteps must not.
		links           []string
		steps, notSteps []string
		other           string // a heading among the other steps
	}{
		{"linux chrome", []string{"User-Agent", uaLinuxChrome}, []string{"123456/linux-amd64", "123456/windows-amd64"},
			[]string{"Chrome shows the download", "Ctrl+J", "Show in folder", "Allow executing file as program", "Double-click",
				"chmod +x peerdesk-support-123456", "./peerdesk-support-123456"},
			[]string{"Firefox", "Edge", "SmartScreen"}, "Firefox on Linux"},
		{"windows edge", []string{"User-Agent", uaWindowsEdge}, []string{"123456/windows-amd64", "123456/linux-amd64"},
			[]string{"Edge shows the download", "Keep anyway", "peerdesk-support-123456.exe", "SmartScreen", "More info", "Run anyway"},
			[]string{"chmod", "Chrome", "Firefox"}, "Chrome on Windows"},
		{"windows firefox", []string{"User-Agent", uaWindowsFF}, []string{"123456/windows-amd64", "123456/linux-amd64"},
			[]string{"Firefox shows the download", "Ctrl+J", "Run anyway"},
			[]string{"chmod", "Edge", "Ctrl+Shift+Y"}, "Edge on Windows"},
		{"mac safari", []string{"User-Agent", uaMacSafari}, []string{"123456/windows-amd64", "123456/linux-amd64"},
			[]string{"Safari shows the download", "does not run on macOS yet"},
			[]string{"chmod", "SmartScreen"}, "Chrome on Linux"},
		{"linux arm firefox", []string{"User-Agent", uaLinuxArmFF}, []string{"123456/windows-amd64", "123456/linux-amd64"},
			[]string{"Firefox shows", "Ctrl+Shift+Y", "Allow executing file as program", "chmod +x peerdesk-support-123456"},
			[]string{"Chrome", "SmartScreen"}, "Chrome on Linux"},
		{"android", []string{"User-Agent", uaAndroidPhone}, []string{"123456/windows-amd64", "123456/linux-amd64"},
			[]string{"Chrome shows", "Run the file for your system"},
			[]string{"chmod", "SmartScreen"}, "Chrome on Linux"},
		{"client hint over a frozen user agent", []string{"User-Agent", uaLinuxChrome, "Sec-CH-UA-Platform", `"Windows"`},
			[]string{"123456/windows-amd64", "123456/linux-amd64"},
			[]string{"Chrome shows the download", "Keep", "SmartScreen"},
			[]string{"chmod"}, "Chrome on Linux"},
		{"client hint of a phone", []string{"User-Agent", uaLinuxChrome, "Sec-CH-UA-Platform", `"Android"`},
			[]string{"123456/windows-amd64", "123456/linux-amd64"},
			[]string{"Run the file for your system"},
			[]string{"chmod", "SmartScreen"}, "Chrome on Linux"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newSupportBrowser(t, supportConfig(newFake(), newFakeDesk(), binariesDir(t)))
			resp, body := b.submit("/support", url.Values{"csrf": {b.csrf("/support")}, "code": {goodCode}}, tc.hdr...)
			wantStatus(t, "POST /support", resp, http.StatusOK)
			var links []string
			for _, m := range downloadLink.FindAllStringSubmatch(body, -1) {
				links = append(links, strings.TrimPrefix(m[1], "/support/download/"))
			}
			if diff := cmp.Diff(tc.links, links); diff != "" {
				t.Errorf("download links (-want +got):\n%s", diff)
			}
			mine := visitorBuildOf(&http.Request{Header: headers(tc.hdr)})
			primary := mine != "" && tc.links[0] == "123456/"+mine
			if got := strings.Contains(body, `class="button primary" href="/support/download/`+tc.links[0]+`"`); got != primary {
				t.Errorf("first download marked primary: %v, want %v", got, primary)
			}
			steps := between(t, body, `id="steps"`, `id="other-steps"`)
			for _, want := range tc.steps {
				if !strings.Contains(steps, want) {
					t.Errorf("the visitor's steps lack %q:\n%s", want, steps)
				}
			}
			for _, not := range tc.notSteps {
				if strings.Contains(steps, not) {
					t.Errorf("the visitor's steps mention %q:\n%s", not, steps)
				}
			}
			other := between(t, body, `id="other-steps"`, `</details>`)
			if !strings.Contains(other, "<h3>"+tc.other+"</h3>") {
				t.Errorf("the other steps lack %q", tc.other)
			}
			wantOrder(t, body, `href="/support/download/`, `id="steps"`, "If peerdesk is already installed on this computer",
				`id="open-agent" href="peerdesk://session/123456"`, "Open the installed peerdesk agent")
		})
	}

	b := newSupportBrowser(t, supportConfig(newFake(), newFakeDesk(), ""))
	_, body := b.submit("/support", url.Values{"csrf": {b.csrf("/support")}, "code": {goodCode}}, "User-Agent", uaLinuxChrome)
	if !strings.Contains(body, "No one-time agent is available") || !strings.Contains(body, "peerdesk://session/123456") {
		t.Errorf("without binaries the page should still offer the installed agent and say why there is no download:\n%s", body)
	}
	if strings.Contains(body, "chmod") || strings.Contains(body, "/support/download/") {
		t.Error("without binaries the page explains how to run a download it does not offer")
	}
}

func TestVisitorBuildOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ua, hint, want string
	}{
		{uaLinuxChrome, "", "linux-amd64"},
		{uaLinuxChrome, `"Linux"`, "linux-amd64"},
		{uaLinuxArmFF, `"Linux"`, "linux-arm64"},
		{uaWindowsEdge, `"Windows"`, "windows-amd64"},
		{uaLinuxChrome, `"Windows"`, "windows-amd64"},
		{uaWindowsEdge, `"macOS"`, "darwin-arm64"},
		{uaWindowsEdge, `"Android"`, ""},
		{uaWindowsEdge, `"Chrome OS"`, ""},
		{uaMacSafari, `"iOS"`, ""},
		{uaWindowsEdge, `"Unknown"`, "windows-amd64"},
		{uaWindowsEdge, `"` + strings.Repeat("Linux", 20) + `"`, "windows-amd64"},
		{"", `"Linux"`, "linux-amd64"},
		{"", "", ""},
	} {
		r := &http.Request{Header: http.Header{"User-Agent": {tc.ua}}}
		if tc.hint != "" {
			r.Header.Set("Sec-CH-UA-Platform", tc.hint)
		}
		if got := visitorBuildOf(r); got != tc.want {
			t.Errorf("visitorBuildOf(%q, hint %q) = %q, want %q", tc.ua, tc.hint, got, tc.want)
		}
	}
}

// headers makes request headers of name, value pairs.
func headers(kv []string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// between is the part of s from the first from to the next to.
func between(t *testing.T, s, from, to string) string {
	t.Helper()
	i := strings.Index(s, from)
	if i < 0 {
		t.Fatalf("page lacks %q", from)
	}
	j := strings.Index(s[i:], to)
	if j < 0 {
		t.Fatalf("page lacks %q after %q", to, from)
	}
	return s[i : i+j]
}

// wantOrder checks that s holds each of parts, in order.
func wantOrder(t *testing.T, s string, parts ...string) {
	t.Helper()
	at := 0
	for _, p := range parts {
		i := strings.Index(s[at:], p)
		if i < 0 {
			t.Errorf("page lacks %q after the preceding %q", p, s[max(0, at-40):at])
			return
		}
		at += i + len(p)
	}
}

func TestDownload(t *testing.T) {
	d := newFakeDesk()
	b := newSupportBrowser(t, supportConfig(newFake(), d, binariesDir(t)))
	for _, tc := range []struct{ os, file, exe string }{
		{"linux-amd64", "peerdesk-support-123456", "\x7fELF-linux-amd64-agent"},
		{"windows-amd64", "peerdesk-support-123456.exe", "MZ-windows-amd64-agent"},
	} {
		resp, body := b.do("GET", "/support/download/123456/"+tc.os, nil)
		wantStatus(t, "download "+tc.os, resp, http.StatusOK)
		for k, v := range map[string]string{
			"Content-Type":        "application/octet-stream",
			"Content-Disposition": `attachment; filename="` + tc.file + `"`,
			"Cache-Control":       "no-store",
			"Content-Length":      strconv.Itoa(len(body)),
		} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("download %s: %s = %q, want %q", tc.os, k, got, v)
			}
		}
		if !strings.HasPrefix(body, tc.exe) {
			t.Errorf("download %s does not start with the executable: %q", tc.os, body[:min(len(body), 40)])
		}
		cfg, err := supportpack.Read(bytes.NewReader([]byte(body)), int64(len(body)))
		if err != nil {
			t.Fatalf("download %s: %v", tc.os, err)
		}
		if diff := cmp.Diff(wire.SupportConfig{Code: goodCode, CoordinatorURL: testURL, Pin: testPin}, cfg); diff != "" {
			t.Errorf("download %s's trailer (-want +got):\n%s", tc.os, diff)
		}
	}
	if diff := cmp.Diff([]string{"192.0.2.1 123456", "192.0.2.1 123456"}, d.Checks()); diff != "" {
		t.Errorf("every download checks the code again (-want +got):\n%s", diff)
	}
}

func TestDownloadRefusals(t *testing.T) {
	d := newFakeDesk()
	d.errs["999999"] = support.ErrUsed
	dir := binariesDir(t)
	b := newSupportBrowser(t, supportConfig(newFake(), d, dir))
	for _, tc := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/support/download/123456/freebsd-amd64", http.StatusNotFound, "There is no one-time agent for that system."},
		{"/support/download/123456/linux-arm64", http.StatusNotFound, "not available for this system"},
		{"/support/download/123456/darwin-arm64", http.StatusNotFound, "not available for this system"}, // a directory
		{"/support/download/654321/linux-amd64", http.StatusNotFound, "No such support code."},
		{"/support/download/999999/linux-amd64", http.StatusConflict, "already been used"},
		{"/support/download/123456/..%2f..%2fsecret", http.StatusNotFound, "There is no one-time agent"},
		{"/support/download/123456/..%2fsecret", http.StatusNotFound, "There is no one-time agent"},
		{"/support/download/123456/%2e%2e", http.StatusNotFound, "There is no one-time agent"},
		{"/support/download/..%2f..%2fsecret/linux-amd64", http.StatusNotFound, "No such support code."},
		{"/support/download/123456/linux-amd64%00", http.StatusNotFound, "There is no one-time agent"},
		{"/support/download/123456/linux-amd64/../../secret", http.StatusTemporaryRedirect, ""}, // to the cleaned path, not ours
		{"/support/download/123456", http.StatusNotFound, ""},
	} {
		resp, body := b.do("GET", tc.path, nil)
		wantStatus(t, tc.path, resp, tc.status)
		if !strings.Contains(body, tc.msg) {
			t.Errorf("%s: page lacks %q", tc.path, tc.msg)
		}
		if strings.Contains(body, "TOPSECRET") || strings.Contains(body, "agent\x00") || resp.Header.Get("Content-Type") == "application/octet-stream" {
			t.Errorf("%s: served a file", tc.path)
		}
	}
	// Without a binaries directory nothing is available.
	none := newSupportBrowser(t, supportConfig(newFake(), d, ""))
	resp, body := none.do("GET", "/support/download/123456/linux-amd64", nil)
	wantStatus(t, "no binaries configured", resp, http.StatusNotFound)
	if !strings.Contains(body, "not available for this system") {
		t.Error("no binaries configured: wrong message")
	}
	// A wrong code is checked (and so audited and rate-limited) like a typed one.
	if !slices.Contains(d.Checks(), "192.0.2.1 654321") || !slices.Contains(d.Checks(), "192.0.2.1 ../../secret") {
		t.Errorf("CheckCode calls: %q", d.Checks())
	}
	d.errs[goodCode] = errRate
	resp, _ = b.do("GET", "/support/download/123456/linux-amd64", nil)
	wantStatus(t, "rate limited download", resp, http.StatusTooManyRequests)
}
