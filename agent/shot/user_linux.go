package shot

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// User names the logged-on user of X display ("" = $DISPLAY): the owner of
// the display's local socket, /tmp/.X11-unix/X<n> — the user whose
// session shows that screen, whoever the agent runs as. A display with no
// local socket (a remote or unset one) falls back to $USER of the agent's
// session, then the agent's own account.
func User(display string) string {
	if display == "" {
		display = os.Getenv("DISPLAY")
	}
	if u := displayOwner(display, "/tmp/.X11-unix"); u != "" {
		return u
	}
	return fromEnv()
}

// displayOwner is the user owning the socket of a local display ":n" or
// ":n.s" in dir, or "".
func displayOwner(display, dir string) string {
	host, rest, ok := strings.Cut(display, ":")
	if !ok || (host != "" && host != "unix") {
		return ""
	}
	num, _, _ := strings.Cut(rest, ".")
	if _, err := strconv.Atoi(num); err != nil {
		return ""
	}
	fi, err := os.Stat(filepath.Join(dir, "X"+num))
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	uid := strconv.FormatUint(uint64(st.Uid), 10)
	if u, err := user.LookupId(uid); err == nil {
		return u.Username
	}
	return "uid " + uid
}
