// Package dashboard holds the templ components of the coordinator's web pages
// (the technician dashboard and the end-user portal).
//
// Components take plain view values defined here, never the store, the API
// or an *http.Request: the web handlers (coordinator/web) build the views,
// the components only lay them out. Every page works without JavaScript.
//
// The *_templ.go files are generated; regenerate them with
//
//	go run github.com/a-h/templ/cmd/templ@v0.3.977 generate -path ./templates
package dashboard

import (
	"fmt"
	"strconv"
	"time"
)

// Nav is the navigation bar of a logged-in technician's page.
type Nav struct {
	User    string
	Role    string
	IsAdmin bool // shows the admin-only tabs
	Support bool // shows the Support tab (the coordinator runs a support desk)
	Tickets bool // shows the Tickets tab (the coordinator keeps tickets)
	Users   bool // shows the Users and device administration tabs (the role manages users)
	// Assistant shows the Assistant tab (the role manages the help desk
	// assistant's settings).
	Assistant bool
	CSRF      string // the token the logout form carries
	Active    string // the current tab: TabSupport, TabMachines or TabTokens
}

// Tabs of the navigation bar.
const (
	TabSupport  = "support"
	TabMachines = "machines"
	TabTokens   = "tokens"
)

// MachinesView is the Machines page.
type MachinesView struct {
	Nav      Nav
	Machines []Machine
	// The Access view (U6): the filter in force, the groupings and smart
	// groups with their counts, the account's saved filters, and the
	// machine whose panel is open.
	Query string
	Dim   string
	Value string
	Smart string
	Total int // machines the account may see, before filtering
	// Paging: Matches machines match the filter; Machines are numbers
	// First to Last of them, page Page of Pages; PrevURL and NextURL lead
	// to the neighbouring pages ("" at either end).
	Matches, First, Last, Page, Pages int
	PrevURL, NextURL                  string
	Smarts                            []GroupLink
	Groups                            []Grouping
	Saved                             []GroupLink
	Selected                          *MachinePanel
	Error                             string // a refused filter or save
}

// GroupLink is a group, smart group or saved filter the sidebar offers.
type GroupLink struct {
	Label  string
	Count  int
	URL    string
	Active bool
}

// Grouping is one dimension (company, site…) with its groups.
type Grouping struct {
	Title  string
	Groups []GroupLink
}

// MachinePanel is the detail panel of one machine.
type MachinePanel struct {
	Machine
	Fields     [][2]string // label, value: every inventory field there is
	ConnectURL string      // the technician's viewer; empty: may not connect
	WakeURL    string      // the viewer wakes it through a peer; empty: may not wake
	ToolsURL   string      // the viewer's tools page; empty: may not
	CloseURL   string
}

// Machine is one enrolled device.
type Machine struct {
	ID        string
	URL       string // opens its panel, keeping the filter
	Hostname  string
	Company   string
	Site      string
	OS        string
	Online    bool
	LastSeen  time.Time // zero: never seen
	SeenAgo   string    // e.g. "12 s ago"
	OverlayIP string
	Details   *MachineDetails // nil until the agent reported its inventory
}

// MachineDetails is the hardware summary from a device's inventory.
type MachineDetails struct {
	CPUModel string
	CPUCores int
	RAMBytes uint64
	Disks    []Disk
}

// Disk is one file system of a device.
type Disk struct {
	Mount      string
	FSType     string
	TotalBytes uint64
	FreeBytes  uint64
}

// TokensView is the Enrollment tokens page.
type TokensView struct {
	Nav     Nav
	CSRF    string // the token the create form carries
	TTLs    []TTLOption
	Note    string        // the note typed, kept when the form is refused
	Error   string        // why the form was refused, if it was
	Created *CreatedToken // the token just created, shown once
	Tokens  []TokenRow
}

// TTLOption is one choice of token lifetime.
type TTLOption struct {
	Value    string // form value, e.g. "24h"
	Label    string // e.g. "24 hours"
	Selected bool
}

// CreatedToken is a token just created: the only time its text is shown.
type CreatedToken struct {
	Token   string
	Expires time.Time
}

// TokenRow is an existing enrollment token, without its secret.
type TokenRow struct {
	ID        string
	Note      string
	CreatedBy string
	Created   time.Time
	Expires   time.Time
	Expired   bool
	UsedAt    time.Time // zero: unused
	UsedBy    string    // the device that used it
}

// ErrorView is a page that explains a refusal or a failure.
type ErrorView struct {
	Nav     *Nav // nil when nobody is logged in
	Title   string
	Message string
}

// stamp formats t for people; the zero time is "never".
func stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// machineTime is t for a <time datetime> attribute.
func machineTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// bytesIEC formats n bytes with binary prefixes, e.g. "7.7 GiB".
func bytesIEC(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// cores formats a core count.
func cores(n int) string {
	if n == 1 {
		return "1 core"
	}
	return fmt.Sprintf("%d cores", n)
}

// count formats n things, e.g. "1 machine", "2 machines".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// orDash shows "—" for an empty value.
func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }
