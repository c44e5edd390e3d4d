package desk

import (
	"errors"
	"strconv"

	"github.com/peerdesk/peerdesk/coordinator/assist"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// The help desk assistant's settings (issue 14 item 6): only an admin
// (policy.ActionManageAssistant) reads or changes them, never with an API
// key; each change is audited.

// ErrNoAssistant says the coordinator keeps no assistant settings
// (Config.Assistant is nil).
var ErrNoAssistant = errors.New("desk: this coordinator has no help desk assistant")

// AssistSettings returns the assistant's settings, for an admin.
func (d *Desk) AssistSettings(c Caller) (wire.AssistSettings, error) {
	if err := d.allow(c, policy.ActionManageAssistant, c.event("assistant.settings.read", "")); err != nil {
		return wire.AssistSettings{}, err
	}
	if d.cfg.Assistant == nil {
		return wire.AssistSettings{}, newErr(Unavailable, "This coordinator has no help desk assistant.", ErrNoAssistant)
	}
	s, err := d.cfg.Assistant.Get()
	if err != nil {
		return wire.AssistSettings{}, internal("the assistant's settings could not be read", err)
	}
	return s, nil
}

// SetAssistSettings replaces the assistant's settings, for an admin (not
// an API key), once they pass assist.CheckSettings.
func (d *Desk) SetAssistSettings(c Caller, s wire.AssistSettings) error {
	ev := c.event("assistant.settings.set", "")
	ev.Fields["companies"] = strconv.Itoa(len(s.Companies))
	ev.Fields["model"] = s.Model
	ev.Fields["default_enabled"] = strconv.FormatBool(s.Default.Enabled)
	if err := d.allow(c, policy.ActionManageAssistant, ev); err != nil {
		return err
	}
	if c.APIKey != "" {
		return d.refuse(ev, newErr(Forbidden, ErrAPIKeyOnly.Error(), ErrAPIKeyOnly))
	}
	if d.cfg.Assistant == nil {
		return d.refuse(ev, newErr(Unavailable, "This coordinator has no help desk assistant.", ErrNoAssistant))
	}
	if err := assist.CheckSettings(s); err != nil {
		return d.refuse(ev, newErr(Invalid, err.Error(), err))
	}
	if err := d.cfg.Assistant.Set(s); err != nil {
		return d.refuse(ev, newErr(Invalid, "The settings could not be stored (too large?).", err))
	}
	d.ok(ev)
	return nil
}
