// Package auditcmd is `peerdesk admin audit verify|export`: the commands
// that check and export the coordinator's audit trail through its local
// administration socket.
//
// They go through the running coordinator, not the store: Badger admits
// one process at a time, so opening the store offline would mean stopping
// the coordinator, and the socket (0600, in the 0700 data directory) is
// already what "may administer this coordinator" means. The coordinator
// verifies with its key, which stays in its own key directory.
package auditcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

// Client is what the commands need of the coordinator; the local admin
// client (coordinator/adminclient.Client) is one.
type Client interface {
	AuditVerify(ctx context.Context) (wire.AuditVerifyResult, error)
	AuditExport(ctx context.Context, w io.Writer, format string, since time.Time) error
}

// ErrBroken is Verify's error when the chain does not hold (the command
// exits non-zero).
var ErrBroken = errors.New("the audit chain is broken")

// ErrUsage is returned for a missing or unknown subcommand or bad flags.
var ErrUsage = errors.New("usage: peerdesk admin audit verify | export -format csv|json [-since RFC3339]")

// Run runs `audit <args>`; args[0] is verify or export, the rest its
// flags. Output goes to stdout; a broken chain or a failure is the error.
func Run(ctx context.Context, c Client, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return ErrUsage
	}
	switch args[0] {
	case "verify":
		fs := flag.NewFlagSet("peerdesk admin audit verify", flag.ContinueOnError)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return Verify(ctx, c, stdout)
	case "export":
		fs := flag.NewFlagSet("peerdesk admin audit export", flag.ContinueOnError)
		format := fs.String("format", wire.AuditFormatJSON, "csv or json")
		since := fs.String("since", "", "only records from this time on (RFC 3339, e.g. 2026-12-01T00:00:00Z)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		var t time.Time
		if *since != "" {
			var err error
			if t, err = time.Parse(time.RFC3339, *since); err != nil {
				return fmt.Errorf("-since must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z: %w", err)
			}
		}
		if *format != wire.AuditFormatCSV && *format != wire.AuditFormatJSON {
			return fmt.Errorf("-format must be csv or json, not %q", *format)
		}
		return c.AuditExport(ctx, stdout, *format, t)
	}
	return fmt.Errorf("unknown audit command %q: %w", args[0], ErrUsage)
}

// Verify asks the coordinator to verify its chain and prints the outcome;
// a broken chain is an error naming the first bad record.
func Verify(ctx context.Context, c Client, stdout io.Writer) error {
	res, err := c.AuditVerify(ctx)
	if err != nil {
		return err
	}
	if !res.OK {
		fmt.Fprintf(stdout, "BROKEN: first bad record %d (key %s): %s\n%d records before it verified\n", res.FirstBad, res.Key, res.Reason, res.Records)
		return fmt.Errorf("%w at record %d: %s", ErrBroken, res.FirstBad, res.Reason)
	}
	fmt.Fprintf(stdout, "ok: %d records, chain, head and checkpoints verified\n", res.Records)
	return nil
}
