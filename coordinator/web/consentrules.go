package web

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/peerdesk/peerdesk/policy"
	templates "github.com/peerdesk/peerdesk/templates/dashboard"
	"github.com/peerdesk/peerdesk/wire"
)

// The shop's consent rules on the Users page: a plain form (checkboxes for
// the default set, a line per company and per device); the desk decides
// who may change them, checks and audits them, and tells the agents.

// consentLabels name the capabilities on the form.
var consentLabels = map[wire.Capability]string{
	wire.CapScreen:    "see the screen",
	wire.CapInput:     "use the mouse and keyboard",
	wire.CapPower:     "restart the computer",
	wire.CapSysInfo:   "read system information",
	wire.CapWake:      "wake other computers",
	wire.CapFiles:     "browse and copy files",
	wire.CapShell:     "run commands in a terminal",
	wire.CapProcesses: "see and end programs",
	wire.CapServices:  "start and stop services",
	wire.CapApps:      "list installed applications",
	wire.CapLogs:      "read the event logs",
}

// consentForm is the form showing r (or, when !set, the agents' attended
// default, to start from).
func consentForm(r policy.ConsentRules, set bool) templates.ConsentRulesForm {
	def := r.Default
	if !set {
		def = policy.AttendedConsent
	}
	f := templates.ConsentRulesForm{Set: set, Companies: formatRuleLines(r.ByCompany), Devices: formatRuleLines(r.ByDevice)}
	for _, c := range wire.KnownCapabilities {
		label := consentLabels[c]
		if label == "" {
			label = "use " + string(c)
		}
		f.Default = append(f.Default, templates.ConsentCap{Name: string(c), Label: label, Checked: slices.Contains(def, c)})
	}
	return f
}

// formatRuleLines writes entries one a line, "name: cap cap", by name.
func formatRuleLines(m map[string][]wire.Capability) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(m)) {
		b.WriteString(name + ":")
		for _, c := range m[name] {
			b.WriteString(" " + string(c))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// errRuleLine is a line of the form that is not "name: capabilities".
var errRuleLine = errors.New("web: invalid consent rule line")

// parseRuleLines reads the lines of a per-company or per-device field:
// "name: cap cap" (commas or spaces between capabilities), blank lines
// skipped. Each name once; names and capabilities are checked by
// policy.ConsentRules.Check afterwards.
func parseRuleLines(text string) (map[string][]wire.Capability, error) {
	out := map[string][]wire.Capability{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if len(out) >= policy.MaxConsentEntries {
			return nil, fmt.Errorf("%w: more than %d lines", errRuleLine, policy.MaxConsentEntries)
		}
		name, list, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("%w: line %d is not \"name: capabilities\"", errRuleLine, i+1)
		}
		if len(name) > wire.MaxNameLen {
			return nil, fmt.Errorf("%w: line %d: a name is at most %d bytes", errRuleLine, i+1, wire.MaxNameLen)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%w: line %d: %s is listed twice", errRuleLine, i+1, name)
		}
		caps := []wire.Capability{}
		for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			c := wire.Capability(f)
			if !c.Valid() {
				return nil, fmt.Errorf("%w: line %d: unknown capability %.32q", errRuleLine, i+1, f)
			}
			if !slices.Contains(caps, c) {
				caps = append(caps, c)
			}
		}
		out[name] = caps
	}
	return out, nil
}

// parseConsentForm reads the rules the form sent.
func parseConsentForm(r *http.Request) (policy.ConsentRules, error) {
	rules := policy.ConsentRules{Default: []wire.Capability{}}
	for _, v := range r.PostForm["default"] {
		c := wire.Capability(v)
		if !c.Valid() {
			return policy.ConsentRules{}, fmt.Errorf("%w: unknown capability %.32q", errRuleLine, v)
		}
		if !slices.Contains(rules.Default, c) {
			rules.Default = append(rules.Default, c)
		}
	}
	var err error
	if rules.ByCompany, err = parseRuleLines(r.PostForm.Get("companies")); err != nil {
		return policy.ConsentRules{}, fmt.Errorf("companies: %w", err)
	}
	if rules.ByDevice, err = parseRuleLines(r.PostForm.Get("devices")); err != nil {
		return policy.ConsentRules{}, fmt.Errorf("machines: %w", err)
	}
	return rules, nil
}

// handleSetConsentRules is POST /settings/consent-rules: op "save" sets
// the rules the form carries, op "clear" removes the shop's rules.
func (s *server) handleSetConsentRules(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	var err error
	notice := "Consent rules saved; the agents online have been told."
	switch r.PostForm.Get("op") {
	case "clear":
		err = s.accounts.ClearConsentRules(sess.caller)
		notice = "Consent rules removed; each agent uses its own default."
	default:
		rules, perr := parseConsentForm(r)
		if perr != nil {
			// Nothing reached the desk: it still decides whether the
			// caller may, so a role that may not is refused as such.
			if _, _, rerr := s.accounts.ConsentRules(sess.caller); rerr != nil {
				s.usersDone(w, r, sess, "setting consent rules", rerr, "")
				return
			}
			f := consentForm(policy.ConsentRules{}, true)
			for i := range f.Default {
				f.Default[i].Checked = slices.Contains(r.PostForm["default"], f.Default[i].Name)
			}
			f.Companies, f.Devices = r.PostForm.Get("companies"), r.PostForm.Get("devices")
			s.renderUsersWith(w, r, sess, http.StatusBadRequest, sentence(strings.TrimPrefix(perr.Error(), "web: ")), "", &f)
			return
		}
		err = s.accounts.SetConsentRules(sess.caller, rules)
	}
	s.usersDone(w, r, sess, "setting consent rules", err, notice)
}
