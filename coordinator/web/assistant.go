package web

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/peerdesk/peerdesk/coordinator/assist"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/policy"
	templates "github.com/peerdesk/peerdesk/templates/dashboard"
	"github.com/peerdesk/peerdesk/wire"
)

// The admins' Assistant page (issue 14 item 6): the help desk assistant's
// model, and per company (a default and companies of their own) whether it
// answers, the shop's system prompt additions, its contacts and the
// whitelist of diagnostics and fixes, as checkboxes of the rows package
// policy knows. Each form changes one part and sends the whole settings to
// the desk, which decides who may (admins), checks them again and audits
// the change; the page checks the bounds first to say what is wrong.

// Assistant is what the Assistant page needs of the desk (*desk.Desk
// implements it).
type Assistant interface {
	AssistSettings(c desk.Caller) (wire.AssistSettings, error)
	SetAssistSettings(c desk.Caller, s wire.AssistSettings) error
}

const assistantPath = "/assistant"

// maxModelInput bounds the model field (modelRE in package assist allows
// 128 + 1 + 64 bytes).
const maxModelInput = 200

func (s *server) handleAssistant(w http.ResponseWriter, r *http.Request, sess session) {
	s.renderAssistant(w, r, sess, http.StatusOK, "", s.flashFor(sess, assistantPath).notice, nil)
}

// renderAssistant renders the page from the stored settings; sent, if not
// nil, is a refused company form shown as it was sent in place of the
// stored entry (or in the Add form).
func (s *server) renderAssistant(w http.ResponseWriter, r *http.Request, sess session, status int, errMsg, notice string, sent *sentCompany) {
	sess.nav.Active = templates.TabAssistant
	set, err := s.assistant.AssistSettings(sess.caller)
	if err != nil {
		status, msg := s.failure("reading the assistant's settings", err)
		title := "Assistant unavailable"
		if desk.KindOf(err) == desk.Forbidden {
			title = "Not allowed"
		}
		s.errorPage(w, r, status, &sess.nav, title, msg)
		return
	}
	v := templates.AssistantView{Nav: sess.nav, CSRF: sess.nav.CSRF, Model: set.Model,
		MaxPrompt: wire.MaxAssistPrompt, MaxContacts: wire.MaxAssistContacts, MaxName: wire.MaxNameLen,
		Error: errMsg, Notice: notice}
	v.Default = companyForm("", "assistant-default", set.Default)
	for i, name := range slices.Sorted(maps.Keys(set.Companies)) {
		v.Companies = append(v.Companies, companyForm(name, "assistant-company-"+strconv.Itoa(i), set.Companies[name]))
	}
	v.Add = companyForm("", "assistant-add", wire.AssistCompany{Enabled: true})
	if sent != nil {
		f := companyForm(sent.name, "", sent.c)
		switch i := slices.IndexFunc(v.Companies, func(c templates.AssistantCompany) bool { return c.Name == sent.name }); {
		case sent.add:
			f.ID = v.Add.ID
			v.Add = f
		case sent.name == "":
			f.ID = v.Default.ID
			v.Default = f
		case i >= 0:
			f.ID = v.Companies[i].ID
			v.Companies[i] = f
		}
	}
	s.render(w, r, status, templates.AssistantPage(v))
}

// companyForm is one company's entry as a form: a nil whitelist (the
// whole table) checks every row.
func companyForm(name, id string, c wire.AssistCompany) templates.AssistantCompany {
	f := templates.AssistantCompany{Name: name, ID: id, Enabled: c.Enabled, Prompt: c.Prompt, Contacts: c.Contacts}
	wl := policy.Whitelist{Allow: c.Allow}
	for _, t := range policy.Diagnostics {
		f.Diagnostics = append(f.Diagnostics, templates.AssistantTool{Name: t.Name, Description: t.Description, Checked: wl.Allows(t.Name)})
	}
	for _, t := range policy.Remediations {
		f.Remediations = append(f.Remediations, templates.AssistantTool{Name: t.Name, Description: t.Description, Checked: wl.Allows(t.Name)})
	}
	return f
}

// sentCompany is a company form as sent.
type sentCompany struct {
	add  bool
	name string
	c    wire.AssistCompany
}

// errAssistantForm is a company form whose fields are out of bounds.
var errAssistantForm = errors.New("web: invalid assistant settings")

// textField reads a textarea: the browser's CRLF line ends made LF, white
// space around trimmed.
func textField(r *http.Request, name string) string {
	return strings.TrimSpace(strings.ReplaceAll(r.PostForm.Get(name), "\r\n", "\n"))
}

// parseCompanyForm reads a company form, checking every field's bounds
// and that each whitelist name is a row of the table. Every row checked
// stores the whole table (nil), so rows added later are allowed too.
func parseCompanyForm(r *http.Request) (sentCompany, error) {
	f := sentCompany{add: r.PostForm.Get("new") == "1", name: strings.TrimSpace(r.PostForm.Get("company"))}
	f.c = wire.AssistCompany{Enabled: r.PostForm.Get("enabled") == "on", Prompt: textField(r, "prompt"), Contacts: textField(r, "contacts"), Allow: []string{}}
	var errs []error
	switch {
	case f.add && f.name == "":
		errs = append(errs, fmt.Errorf("%w: name the company", errAssistantForm))
	case len(f.name) > wire.MaxNameLen || !utf8.ValidString(f.name) || strings.ContainsFunc(f.name, isControl):
		errs = append(errs, fmt.Errorf("%w: a company name is text of at most %d bytes", errAssistantForm, wire.MaxNameLen))
		f.name = policy.CapString(strings.ToValidUTF8(f.name, "?"), wire.MaxNameLen)
	}
	if len(f.c.Prompt) > wire.MaxAssistPrompt || !utf8.ValidString(f.c.Prompt) {
		errs = append(errs, fmt.Errorf("%w: the system prompt additions are %d bytes, at most %d", errAssistantForm, len(f.c.Prompt), wire.MaxAssistPrompt))
	}
	if len(f.c.Contacts) > wire.MaxAssistContacts || !utf8.ValidString(f.c.Contacts) {
		errs = append(errs, fmt.Errorf("%w: the contacts are %d bytes, at most %d", errAssistantForm, len(f.c.Contacts), wire.MaxAssistContacts))
	}
	all := len(policy.Diagnostics) + len(policy.Remediations)
	for _, n := range r.PostForm["allow"] {
		if _, ok := policy.LookupTool(n); !ok {
			errs = append(errs, fmt.Errorf("%w: %.32q is not a diagnostic or fix the assistant knows", errAssistantForm, n))
			continue
		}
		if !slices.Contains(f.c.Allow, n) {
			f.c.Allow = append(f.c.Allow, n)
		}
	}
	if len(f.c.Allow) == all {
		f.c.Allow = nil
	}
	return f, errors.Join(errs...)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// assistantDone ends a form of the Assistant page: a refusal by role on
// the error page, another on the page itself, or the browser sent back to
// it with the notice.
func (s *server) assistantDone(w http.ResponseWriter, r *http.Request, sess session, op string, err error, notice string, sent *sentCompany) {
	if err != nil {
		status, msg := s.failure(op, err)
		if desk.KindOf(err) == desk.Forbidden {
			s.errorPage(w, r, status, &sess.nav, "Not allowed", msg)
			return
		}
		s.renderAssistant(w, r, sess, status, msg, "", sent)
		return
	}
	s.done(w, r, sess, assistantPath, flash{notice: notice})
}

// handleAssistantModel is POST /assistant/model.
func (s *server) handleAssistantModel(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	set, err := s.assistant.AssistSettings(sess.caller)
	if err != nil {
		s.assistantDone(w, r, sess, "reading the assistant's settings", err, "", nil)
		return
	}
	model := strings.TrimSpace(r.PostForm.Get("model"))
	if len(model) > maxModelInput {
		s.renderAssistant(w, r, sess, http.StatusBadRequest, fmt.Sprintf("A model name is at most %d bytes.", maxModelInput), "", nil)
		return
	}
	set.Model = model
	notice := "Model saved: the assistant uses " + model + "."
	if model == "" {
		notice = "Model saved: the assistant uses the coordinator's."
	}
	s.assistantDone(w, r, sess, "setting the assistant's model", s.assistant.SetAssistSettings(sess.caller, set), notice, nil)
}

// handleAssistantCompany is POST /assistant/companies: one company's
// entry (company "" the default; new=1 adds an entry).
func (s *server) handleAssistantCompany(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	// The desk decides first whether the caller may, so a role that may
	// not is refused as such whatever the form holds.
	set, err := s.assistant.AssistSettings(sess.caller)
	if err != nil {
		s.assistantDone(w, r, sess, "reading the assistant's settings", err, "", nil)
		return
	}
	f, perr := parseCompanyForm(r)
	if perr == nil && f.add {
		if _, dup := set.Companies[f.name]; dup {
			perr = fmt.Errorf("%w: the company %s already has an entry: change it below", errAssistantForm, f.name)
		} else if len(set.Companies) >= assist.MaxCompanies {
			perr = fmt.Errorf("%w: at most %d companies have entries of their own", errAssistantForm, assist.MaxCompanies)
		}
	}
	if perr == nil && !f.add && f.name != "" {
		if _, ok := set.Companies[f.name]; !ok {
			perr = fmt.Errorf("%w: the company %s has no entry (was it removed?): add it again", errAssistantForm, f.name)
		}
	}
	if perr != nil {
		s.renderAssistant(w, r, sess, http.StatusBadRequest, formMessage(perr), "", &f)
		return
	}
	what := "The default"
	if f.name == "" {
		set.Default = f.c
	} else {
		set.Companies = maps.Clone(set.Companies)
		if set.Companies == nil {
			set.Companies = map[string]wire.AssistCompany{}
		}
		set.Companies[f.name] = f.c
		what = f.name + "'s settings"
	}
	s.assistantDone(w, r, sess, "setting the assistant's settings", s.assistant.SetAssistSettings(sess.caller, set), what+" saved.", &f)
}

// handleAssistantDelete is POST /assistant/companies/delete: a company's
// entry removed, so the default applies to it.
func (s *server) handleAssistantDelete(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	set, err := s.assistant.AssistSettings(sess.caller)
	if err != nil {
		s.assistantDone(w, r, sess, "reading the assistant's settings", err, "", nil)
		return
	}
	name := r.PostForm.Get("company")
	if _, ok := set.Companies[name]; !ok {
		s.renderAssistant(w, r, sess, http.StatusNotFound, "That company has no entry of its own.", "", nil)
		return
	}
	set.Companies = maps.Clone(set.Companies)
	delete(set.Companies, name)
	s.assistantDone(w, r, sess, "removing a company's assistant settings", s.assistant.SetAssistSettings(sess.caller, set),
		name+"'s entry removed: the default applies.", nil)
}

// formMessage is the person's sentence for the form errors of err, one
// after another.
func formMessage(err error) string {
	var out []string
	for _, line := range strings.Split(err.Error(), "\n") {
		out = append(out, sentence(strings.TrimPrefix(line, errAssistantForm.Error()+": ")))
	}
	return strings.Join(out, " ")
}
