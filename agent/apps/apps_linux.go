package apps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

// rpmTimeout bounds one rpm -qa.
const rpmTimeout = 60 * time.Second

// List reads the dpkg and rpm databases, whichever this machine has.
func List(ctx context.Context) (wire.AppList, error) {
	var l wire.AppList
	f, err := os.Open(DpkgStatus)
	switch {
	case errors.Is(err, os.ErrNotExist):
		l.Notes = append(l.Notes, "no dpkg database on this machine")
	case err != nil:
		l.Notes = append(l.Notes, "the dpkg database could not be read: "+err.Error())
	default:
		apps, err := ParseDpkgStatus(io.LimitReader(f, maxDBSize))
		f.Close()
		l.Apps = append(l.Apps, apps...)
		if err != nil {
			l.Notes = append(l.Notes, "the dpkg database was read only in part: "+err.Error())
		}
	}
	rpm, err := exec.LookPath("rpm")
	if err != nil {
		l.Notes = append(l.Notes, "rpm is not installed: no RPM packages listed")
		return l, nil
	}
	ctx, cancel := context.WithTimeout(ctx, rpmTimeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, rpm, "-qa", "--queryformat", RPMQueryFormat)
	cmd.Stdout = &limited{w: &out, n: maxDBSize}
	if err := cmd.Run(); err != nil {
		l.Notes = append(l.Notes, fmt.Sprintf("rpm -qa failed: %v", err))
		return l, nil
	}
	apps, err := ParseRPM(&out)
	l.Apps = append(l.Apps, apps...)
	if err != nil {
		l.Notes = append(l.Notes, "rpm's list was read only in part: "+err.Error())
	}
	return l, nil
}

// limited fails writes past n bytes.
type limited struct {
	w io.Writer
	n int64
}

func (l *limited) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, ErrTooLarge
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}
