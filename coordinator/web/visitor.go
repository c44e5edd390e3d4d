package web

import (
	"strings"

	templates "github.com/peerdesk/peerdesk/templates/dashboard"
)

// agentBuild is a one-time agent the portal can offer. Downloads name a
// build; the file served is always the build's own.
type agentBuild struct {
	name   string // in download URLs, e.g. "linux-amd64"
	label  string // for people
	family string // templates.OSLinux, OSWindows or OSMac
}

// agentBuilds are the builds the portal knows, in the order it lists them.
var agentBuilds = []agentBuild{
	{"windows-amd64", "Windows (64-bit)", templates.OSWindows},
	{"linux-amd64", "Linux (x86-64)", templates.OSLinux},
	{"linux-arm64", "Linux (ARM 64-bit)", templates.OSLinux},
	{"darwin-arm64", "macOS (Apple silicon)", templates.OSMac},
}

// file is the build's executable in the binaries directory.
func (b agentBuild) file() string {
	if b.family == templates.OSWindows {
		return "peerdesk-agent-" + b.name + ".exe"
	}
	return "peerdesk-agent-" + b.name
}

func findBuild(name string) (agentBuild, bool) {
	for _, b := range agentBuilds {
		if b.name == name {
			return b, true
		}
	}
	return agentBuild{}, false
}

// visitorBuild guesses the build for a browser's User-Agent; "" when it is
// a phone or tablet, or unknown. A guess only orders the downloads: every
// build present is offered.
func visitorBuild(ua string) string {
	has := func(s ...string) bool {
		for _, x := range s {
			if strings.Contains(ua, x) {
				return true
			}
		}
		return false
	}
	switch {
	case has("Android", "iPhone", "iPad", "CrOS"):
		return ""
	case has("Windows"):
		return "windows-amd64"
	case has("Macintosh", "Mac OS X"):
		return "darwin-arm64"
	case has("Linux") && has("aarch64", "arm64", "armv8"):
		return "linux-arm64"
	case has("Linux", "X11"):
		return "linux-amd64"
	}
	return ""
}

// visitorBrowser names the browser of a User-Agent for the instructions.
// Edge and Opera say "Chrome" and "Safari" too, and Chrome says "Safari":
// the order of the cases matters.
func visitorBrowser(ua string) string {
	switch {
	case strings.Contains(ua, "Edg/"), strings.Contains(ua, "Edge/"), strings.Contains(ua, "EdgA/"):
		return templates.BrowserEdge
	case strings.Contains(ua, "Firefox/"), strings.Contains(ua, "FxiOS/"):
		return templates.BrowserFirefox
	case strings.Contains(ua, "Chrome/"), strings.Contains(ua, "Chromium/"), strings.Contains(ua, "CriOS/"):
		return templates.BrowserChrome
	case strings.Contains(ua, "Safari/"):
		return templates.BrowserSafari
	}
	return ""
}
