package harness

import "github.com/peerdesk/peerdesk/agent"

// WithTempDir gives the agent dir as the user's temporary directory: the
// help desk assistant's clear_temp fix empties it once the user approves.
func WithTempDir(dir string) AgentOption {
	return func(c *agent.Config) { c.TempDir = dir }
}

// WithContacts gives the agent the shop's contacts, in words, shown on the
// end user's page.
func WithContacts(contacts string) AgentOption {
	return func(c *agent.Config) { c.Contacts = contacts }
}
