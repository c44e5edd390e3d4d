//go:build !linux

package shot

// User names the logged-on user: $USER (or $USERNAME) of the agent's
// session, else the account the agent runs as. On Windows the agent's page
// and hotkey run in the user's session, so that is the user at the
// screen; display is unused.
func User(display string) string { return fromEnv() }
