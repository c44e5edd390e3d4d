package shot

import (
	"os"
	"os/user"
)

// fromEnv is the session's user by its environment, else the account the
// agent runs as, else "".
func fromEnv() string {
	for _, k := range []string{"USER", "USERNAME", "LOGNAME"} {
		if u := os.Getenv(k); u != "" {
			return u
		}
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
