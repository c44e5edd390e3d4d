package logs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/peerdesk/peerdesk/wire"
)

// maxJournalLine bounds one line of journalctl's output.
const maxJournalLine = 1 << 20

// read runs journalctl and calls fn with each entry, newest first, until
// fn returns an error (errEnough at the limit), the output ends, or ctx
// does.
func read(ctx context.Context, dir string, q wire.LogQuery, fn func(wire.LogEntry) error) error {
	bin, err := exec.LookPath("journalctl")
	if err != nil {
		return fmt.Errorf("logs: no journalctl: %w", errors.ErrUnsupported)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, JournalArgs(q, dir)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &limitedBuilder{b: &stderr, n: 4096}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("logs: journalctl: %w", err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 0, 64<<10), maxJournalLine)
	var ferr error
	for sc.Scan() {
		e, ok := ParseJournalLine(sc.Bytes())
		if !ok {
			continue
		}
		if ferr = fn(e); ferr != nil {
			break
		}
	}
	serr := sc.Err()
	if ferr != nil || serr != nil {
		cancel() // we stopped reading: stop journalctl
	}
	werr := cmd.Wait()
	switch {
	case ferr != nil:
		return ferr
	case serr != nil:
		return fmt.Errorf("logs: reading journalctl: %w", serr)
	case werr != nil && ctx.Err() != nil:
		return ctx.Err()
	case werr != nil:
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "No journal files were found") || strings.Contains(msg, "No entries") {
			return nil
		}
		return fmt.Errorf("logs: journalctl: %v: %s", werr, msg)
	}
	return nil
}

type limitedBuilder struct {
	b *strings.Builder
	n int
}

func (l *limitedBuilder) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
