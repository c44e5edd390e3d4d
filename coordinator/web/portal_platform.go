package web

import (
	"net/http"
	"strings"
)

// maxPlatformHint bounds the Sec-CH-UA-Platform value the portal reads;
// the real ones are a dozen characters.
const maxPlatformHint = 64

// visitorBuildOf guesses the build for the browser of r: the
// Sec-CH-UA-Platform client hint (Chromium browsers send it unasked) names
// the system when present, since it is not frozen like the User-Agent;
// the User-Agent decides otherwise and still gives the CPU on Linux. ""
// when it is a phone or tablet, or unknown.
func visitorBuildOf(r *http.Request) string {
	ua := r.UserAgent()
	hint := r.Header.Get("Sec-CH-UA-Platform")
	if hint == "" || len(hint) > maxPlatformHint {
		return visitorBuild(ua)
	}
	switch strings.Trim(strings.TrimSpace(hint), `"`) {
	case "Windows":
		return "windows-amd64"
	case "macOS":
		return "darwin-arm64"
	case "Linux":
		if b := visitorBuild(ua); strings.HasPrefix(b, "linux-") {
			return b
		}
		return "linux-amd64"
	case "Android", "iOS", "Chrome OS", "Chromium OS":
		return ""
	}
	return visitorBuild(ua)
}
