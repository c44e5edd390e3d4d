package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/access"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/policy"
	templates "github.com/peerdesk/peerdesk/templates/dashboard"
	"github.com/peerdesk/peerdesk/wire"
)

var dimTitles = map[access.Dimension]string{
	access.ByCompany: "Company", access.BySite: "Site", access.ByOS: "OS", access.ByTag: "Tag", access.ByType: "Device type",
}

// filterFrom reads the Access view's filter from a query string.
func filterFrom(q url.Values) access.Filter {
	return access.Filter{Query: strings.TrimSpace(q.Get("q")), Dim: access.Dimension(q.Get("dim")), Value: q.Get("value"),
		Smart: access.Smart(q.Get("smart"))}
}

// pageSize is how many machines one page of the Access view lists.
const pageSize = 100

// query encodes f (and the open panel, if any) as the view's URL, on its
// first page.
func query(f access.Filter, machine string) string { return queryAt(f, machine, 1) }

// queryAt is query on page page (1-based).
func queryAt(f access.Filter, machine string, page int) string {
	v := url.Values{}
	for k, s := range map[string]string{"q": f.Query, "dim": string(f.Dim), "value": f.Value, "smart": string(f.Smart), "m": machine} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/machines"
	}
	return "/machines?" + v.Encode()
}

// handleMachines is the Access view (U6).
func (s *server) handleMachines(w http.ResponseWriter, r *http.Request, sess session) {
	q := r.URL.Query()
	page := 1
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 1_000_000 {
			s.errorPage(w, r, http.StatusBadRequest, &sess.nav, "No such page", "Pages are numbered from 1.")
			return
		}
		page = n
	}
	s.renderMachines(w, r, sess, http.StatusOK, filterFrom(q), q.Get("m"), "", page)
}

// renderMachines shows the machines matching f, page page of them (a page
// past the last shows the last), with machine open's panel.
func (s *server) renderMachines(w http.ResponseWriter, r *http.Request, sess session, status int, f access.Filter, open, problem string, page int) {
	sess.nav.Active = templates.TabMachines
	if err := f.Validate(); err != nil {
		status, problem, f = http.StatusBadRequest, "That filter was not understood; showing every machine.", access.Filter{}
	}
	ms, err := s.be.Machines(sess.caller)
	if errors.Is(err, desk.ErrForbidden) {
		s.errorPage(w, r, http.StatusForbidden, &sess.nav, "Not allowed", "Your role may not list machines.")
		return
	}
	if err != nil {
		s.log.Error("web: listing machines", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, &sess.nav, "Machines unavailable", "The machine list could not be read; try again.")
		return
	}
	now := s.now()
	fleet := access.New(ms, now)
	v := templates.MachinesView{Nav: sess.nav, Query: f.Query, Dim: string(f.Dim), Value: f.Value, Smart: string(f.Smart),
		Total: len(ms), Error: problem}
	sel := fleet.Select(f)
	v.Matches, v.Pages = len(sel), max(1, (len(sel)+pageSize-1)/pageSize)
	v.Page = min(page, v.Pages)
	first := (v.Page - 1) * pageSize
	v.First, v.Last = first+1, min(first+pageSize, len(sel))
	if v.Page > 1 {
		v.PrevURL = queryAt(f, open, v.Page-1)
	}
	if v.Page < v.Pages {
		v.NextURL = queryAt(f, open, v.Page+1)
	}
	for i, m := range sel {
		if i >= first && i < first+pageSize {
			v.Machines = append(v.Machines, machineRow(m, now, queryAt(f, m.ID, v.Page)))
		}
		if m.ID == open {
			v.Selected = s.panel(m, sess, now, queryAt(f, "", v.Page))
		}
	}
	// Smart groups and groupings count within the search, so a technician
	// sees where the matches are.
	base := access.Filter{Query: f.Query}
	counts := fleet.SmartCounts(base)
	for _, sm := range access.Smarts {
		g := access.Filter{Query: f.Query, Smart: sm, Dim: f.Dim, Value: f.Value}
		active := f.Smart == sm
		if active {
			g.Smart = ""
		}
		v.Smarts = append(v.Smarts, templates.GroupLink{Label: sm.Label(), Count: counts[sm], URL: query(g, ""), Active: active})
	}
	groups := fleet.Groups(base)
	for _, d := range access.Dimensions {
		gr := templates.Grouping{Title: dimTitles[d]}
		for _, g := range groups[d] {
			link := access.Filter{Query: f.Query, Smart: f.Smart, Dim: d, Value: g.Value}
			active := f.Dim == d && f.Value == g.Value
			if active {
				link.Dim, link.Value = "", ""
			}
			gr.Groups = append(gr.Groups, templates.GroupLink{Label: g.Value, Count: g.Count, URL: query(link, ""), Active: active})
		}
		v.Groups = append(v.Groups, gr)
	}
	saved, err := s.be.Filters(sess.caller)
	if err != nil {
		s.log.Warn("web: reading saved filters", "user", sess.User, "err", err)
	}
	for _, sf := range saved {
		q, _ := url.ParseQuery(sf.Query) //nolint:errcheck // validated when saved; a bad one shows every machine
		sfF := filterFrom(q)
		v.Saved = append(v.Saved, templates.GroupLink{Label: sf.Name, Count: fleet.Count(sfF), URL: query(sfF, ""), Active: sfF == f})
	}
	s.render(w, r, status, templates.MachinesPage(v))
}

func machineRow(m access.Machine, now time.Time, link string) templates.Machine {
	row := templates.Machine{
		ID: m.ID, URL: link, Hostname: access.Name(m), OS: m.OS, Online: m.Online, LastSeen: m.LastSeen, OverlayIP: m.OverlayIP,
	}
	if !m.LastSeen.IsZero() {
		row.SeenAgo = ago(now.Sub(m.LastSeen))
	}
	if inv := m.Inventory; inv != nil {
		row.Company, row.Site = inv.Metadata.Company, inv.Metadata.Site
		det := &templates.MachineDetails{CPUModel: inv.CPUModel, CPUCores: inv.CPUCores, RAMBytes: inv.RAMBytes}
		for _, dk := range inv.Disks {
			det.Disks = append(det.Disks, templates.Disk{Mount: dk.Mount, FSType: dk.FSType, TotalBytes: dk.TotalBytes, FreeBytes: dk.FreeBytes})
		}
		row.Details = det
	}
	return row
}

// panel is a machine's detail panel: every inventory field, and the
// actions the account's role allows.
func (s *server) panel(m access.Machine, sess session, now time.Time, closeURL string) *templates.MachinePanel {
	p := &templates.MachinePanel{Machine: machineRow(m, now, ""), CloseURL: closeURL}
	id := url.PathEscape(m.ID)
	if policy.Allow(sess.Role, policy.ActionRequestGrant) == nil {
		p.ConnectURL = s.deviceConnectURL(m.ID)
		p.ToolsURL = s.viewer + "/device/" + id + "/tools"
	}
	if policy.Allow(sess.Role, policy.ActionWake) == nil && !m.Online {
		p.WakeURL = s.viewer + "/wake/" + id
	}
	add := func(label, value string) {
		if value != "" {
			p.Fields = append(p.Fields, [2]string{label, value})
		}
	}
	add("Device ID", m.ID)
	add("Host name", m.Hostname)
	add("Overlay IP", m.OverlayIP)
	add("Enrolled", stamp(m.Enrolled))
	add("Agent protocol", agentProtocol(m.Agent))
	if !m.LastAccess.IsZero() {
		add("Last technician access", stamp(m.LastAccess))
	}
	if inv := m.Inventory; inv != nil {
		md := inv.Metadata
		add("Name", md.Name)
		add("Company", md.Company)
		add("Site", md.Site)
		add("Department", md.Department)
		add("Device type", md.DeviceType)
		add("Tag", md.Tag)
		add("OS", strings.TrimSpace(inv.Platform+" "+inv.OSVersion))
		add("OS build", inv.OSBuild)
		add("Kernel", inv.KernelVersion)
		add("Logged-on user", inv.LoggedOnUser)
		add("Maker", inv.Maker)
		add("Model", inv.Model)
		add("Serial / service tag", inv.Serial)
		if inv.CPUModel != "" {
			add("CPU", fmt.Sprintf("%s (%d cores)", inv.CPUModel, inv.CPUCores))
		}
		if inv.RAMBytes > 0 {
			add("RAM", fmt.Sprintf("%.1f GiB", float64(inv.RAMBytes)/(1<<30)))
		}
		if !inv.LastBoot.IsZero() {
			add("Last boot", stamp(inv.LastBoot))
		}
		add("Agent version", inv.AgentVersion)
		add("External IP", inv.ExternalIP)
		add("Gateway", strings.TrimSpace(inv.Gateway+" "+inv.GatewayMAC))
		for _, n := range inv.Interfaces {
			add("Interface "+n.Name, strings.TrimSpace(n.MAC+" "+strings.Join(n.Addrs, " ")))
		}
		for k, val := range inv.Custom {
			add(k, val)
		}
	}
	return p
}

// agentProtocol is what a machine's agent serves, as the panel shows it:
// "2: apps, files, …", or "1 (update the agent for file transfer, shell
// and the other backstage tools)".
func agentProtocol(s wire.Served) string {
	if s.Version() < 2 {
		return fmt.Sprintf("%d (update the agent for file transfer, shell and the other backstage tools)", s.Version())
	}
	names := make([]string, len(s.Capabilities))
	for i, c := range s.Capabilities {
		names[i] = string(c)
	}
	return fmt.Sprintf("%d: %s", s.Version(), strings.Join(names, ", "))
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// handleSaveFilter saves the view's current filter under a name.
func (s *server) handleSaveFilter(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	f := filterFrom(r.PostForm)
	if err := f.Validate(); err != nil {
		s.renderMachines(w, r, sess, http.StatusBadRequest, access.Filter{}, "", "That filter was not understood.", 1)
		return
	}
	q := strings.TrimPrefix(strings.TrimPrefix(query(f, ""), "/machines"), "?")
	if err := s.be.SaveFilter(sess.caller, identity.SavedFilter{Name: r.PostForm.Get("name"), Query: q}); err != nil {
		status, msg := s.failure("saving a filter", err)
		if errors.Is(err, desk.ErrForbidden) {
			msg = "Your role may not save filters."
		}
		s.renderMachines(w, r, sess, status, f, "", "The filter was not saved: "+msg, 1)
		return
	}
	http.Redirect(w, r, query(f, ""), http.StatusSeeOther)
}
