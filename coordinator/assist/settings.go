package assist

import (
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

const (
	settingsNS  = "assist-settings"
	settingsKey = "shop"
	// MaxCompanies bounds the per-company entries of the settings.
	MaxCompanies = 1000
)

// ErrSettings is matched by every error of settings that fail Check.
var ErrSettings = errors.New("assist: invalid settings")

// modelRE is what an Ollama model name looks like ("qwen3:8b",
// "library/llama3.2:3b-instruct-q4_K_M").
var modelRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}(:[A-Za-z0-9._-]{1,64})?$`)

// DefaultSettings is what a shop that saved none gets: the assistant on
// for every company, the whole whitelist, no additions or contacts.
func DefaultSettings() wire.AssistSettings {
	return wire.AssistSettings{Default: wire.AssistCompany{Enabled: true}}
}

// CheckSettings reports what is wrong with s: a model name that is not
// one, text that is not UTF-8 or too long, whitelist names that are not
// rows of the table, too many companies.
func CheckSettings(s wire.AssistSettings) error {
	var errs []error
	if s.Model != "" && !modelRE.MatchString(s.Model) {
		errs = append(errs, fmt.Errorf("%w: model %q is not a model name", ErrSettings, policy.CapString(s.Model, 64)))
	}
	if len(s.Companies) > MaxCompanies {
		errs = append(errs, fmt.Errorf("%w: more than %d companies", ErrSettings, MaxCompanies))
	}
	check := func(name string, c wire.AssistCompany) {
		if len(c.Prompt) > wire.MaxAssistPrompt || !utf8.ValidString(c.Prompt) {
			errs = append(errs, fmt.Errorf("%w: %s: the prompt additions are not text of at most %d bytes", ErrSettings, name, wire.MaxAssistPrompt))
		}
		if len(c.Contacts) > wire.MaxAssistContacts || !utf8.ValidString(c.Contacts) {
			errs = append(errs, fmt.Errorf("%w: %s: the contacts are not text of at most %d bytes", ErrSettings, name, wire.MaxAssistContacts))
		}
		if err := (policy.Whitelist{Allow: c.Allow}).Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %v", ErrSettings, name, err))
		}
	}
	check("default", s.Default)
	for name, c := range s.Companies {
		if name == "" || len(name) > wire.MaxNameLen || !utf8.ValidString(name) {
			errs = append(errs, fmt.Errorf("%w: company name %q", ErrSettings, policy.CapString(name, 64)))
			continue
		}
		check("company "+name, c)
	}
	return errors.Join(errs...)
}

type settingsRecord struct {
	Settings wire.AssistSettings `json:"settings"`
	Changed  time.Time           `json:"changed"`
}

// Settings keeps the shop's assistant settings in the coordinator's store.
// It only stores: who may change them and the audit are package desk's.
type Settings struct {
	db  store.DB
	now func() time.Time
}

// NewSettings returns the settings kept in db; now stamps changes.
func NewSettings(db store.DB, now func() time.Time) *Settings {
	if now == nil {
		now = time.Now
	}
	return &Settings{db: db, now: now}
}

// Get returns the shop's settings, DefaultSettings when none were saved.
func (s *Settings) Get() (wire.AssistSettings, error) {
	var r settingsRecord
	err := s.db.View(func(tx store.Tx) error { return tx.Get(settingsNS, settingsKey, &r) })
	switch {
	case errors.Is(err, store.ErrNotFound):
		return DefaultSettings(), nil
	case err != nil:
		return wire.AssistSettings{}, fmt.Errorf("assist.Settings.Get: %w", err)
	}
	if err := CheckSettings(r.Settings); err != nil {
		return wire.AssistSettings{}, fmt.Errorf("assist.Settings.Get: the stored settings: %w", err)
	}
	return r.Settings, nil
}

// Set replaces the shop's settings once they pass CheckSettings.
func (s *Settings) Set(v wire.AssistSettings) error {
	if err := CheckSettings(v); err != nil {
		return fmt.Errorf("assist.Settings.Set: %w", err)
	}
	rec := settingsRecord{Settings: v, Changed: s.now().UTC()}
	if err := s.db.Update(func(tx store.Tx) error { return tx.Put(settingsNS, settingsKey, rec) }); err != nil {
		return fmt.Errorf("assist.Settings.Set: %w", err)
	}
	return nil
}
