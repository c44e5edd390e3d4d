package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/cli"
	"github.com/peerdesk/peerdesk/cli/admincmd"
	"github.com/peerdesk/peerdesk/cli/auditcmd"
	"github.com/peerdesk/peerdesk/coordinator"
	"github.com/peerdesk/peerdesk/coordinator/adminclient"
	"github.com/peerdesk/peerdesk/wire"
)

// passwordHelp says how a password is given, for the usage lines.
const passwordHelp = "the password from PEERDESK_PASSWORD, else typed twice on the terminal, else one line of standard input"

// adminCommands is `peerdesk admin …`: each goes through the running
// coordinator's local socket in its data directory (-data).
func adminCommands() []cli.Command {
	return []cli.Command{
		{Name: "add-user", Usage: "create a user (the first admin, say); " + passwordHelp, Run: addUser},
		{Name: "user", Usage: "list, create and change users", Sub: userCommands()},
		{Name: "device", Usage: "list, remove, reset and move enrolled machines", Sub: deviceCommands()},
		{Name: "token", Usage: "print a single-use enrollment token for one machine", Run: token},
		{Name: "status", Usage: "print the coordinator's status (JSON)", Run: status},
		{Name: "audit", Usage: "print the audit trail (JSON; -action, -outcome), or verify or export it", Run: auditList, Sub: []cli.Command{
			{Name: "verify", Usage: "verify the audit chain; exits 1 naming the first bad record if it is broken", Run: auditSub("verify")},
			{Name: "export", Usage: "write the audit trail to stdout as CSV or JSON", Run: auditSub("export")},
		}},
	}
}

// adminFlags returns the flag set of `peerdesk admin NAME` with -data and
// a function that returns the client of the coordinator it names.
func adminFlags(name string, args ...string) (*flag.FlagSet, func() *adminclient.Client) {
	fs := cli.Flags("peerdesk", "admin "+name, args...)
	data := fs.String("data", "/var/lib/peerdesk", "the coordinator's data directory")
	return fs, func() *adminclient.Client { return adminclient.New(filepath.Join(*data, coordinator.SocketName)) }
}

// parse parses args into fs and refuses arguments after the flags.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

// userFlags are the flags of `peerdesk admin user SUB`, passed on to
// admincmd.User.
var userFlags = map[string]string{
	"name":      "user name",
	"role":      "admin, senior, technician or viewer",
	"companies": "comma-separated companies the user works for (empty: all)",
}

func userCommands() []cli.Command {
	c := func(sub, usage string, flags ...string) cli.Command {
		return cli.Command{Name: sub, Usage: usage, Run: userSub(sub, flags...)}
	}
	return []cli.Command{
		c("list", "list the users"),
		c("add", "create a user (-role technician by default); "+passwordHelp, "name", "role", "companies"),
		c(wire.UserPassword, "set a user's password; "+passwordHelp, "name"),
		c(wire.UserRole, "change a user's role and companies", "name", "role", "companies"),
		c(wire.UserDisable, "disable a user: no login, and their sessions and API keys end at once", "name"),
		c(wire.UserEnable, "enable a disabled user", "name"),
		c(wire.UserDelete, "delete a user", "name"),
		c(wire.UserUnlock, "unlock a user locked out by failed logins", "name"),
		c(wire.UserEndSessions, "end a user's sessions", "name"),
		c(wire.UserReset2FA, "remove a user's two-factor authentication", "name"),
	}
}

func userSub(sub string, flags ...string) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		fs, client := adminFlags("user " + sub)
		for _, f := range flags {
			fs.String(f, "", userFlags[f])
		}
		if err := parse(fs, args); err != nil {
			return err
		}
		pass := passOn(fs, sub)
		return adminUsage(admincmd.User(ctx, client(), pass, func(prompt string) (string, error) {
			return cli.NewPassword(prompt, "PEERDESK_PASSWORD")
		}, os.Stdout))
	}
}

func deviceCommands() []cli.Command {
	c := func(sub, usage string, flags ...string) cli.Command {
		return cli.Command{Name: sub, Usage: usage, Run: deviceSub(sub, flags...)}
	}
	return []cli.Command{
		c("list", "list the enrolled machines, removed ones too"),
		c(wire.DeviceRemove, "remove a machine: its credentials are taken away, and it may not enroll again until reset", "id"),
		c(wire.DeviceReset, "forget a machine: it may enroll again with a new token", "id"),
		c(wire.DeviceMove, "file a machine under another company and site", "id", "company", "site"),
	}
}

var deviceFlags = map[string]string{
	"id":      "device id (as admin device list prints it)",
	"company": "the company to file the device under",
	"site":    "the site to file the device under",
}

func deviceSub(sub string, flags ...string) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		fs, client := adminFlags("device " + sub)
		for _, f := range flags {
			fs.String(f, "", deviceFlags[f])
		}
		if err := parse(fs, args); err != nil {
			return err
		}
		pass := passOn(fs, sub)
		return adminUsage(admincmd.Device(ctx, client(), pass, os.Stdout))
	}
}

// passOn returns sub and the flags set in fs but -data, as admincmd takes
// them.
func passOn(fs *flag.FlagSet, sub string) []string {
	pass := []string{sub}
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "data" {
			pass = append(pass, "-"+f.Name, f.Value.String())
		}
	})
	return pass
}

// adminUsage turns admincmd's usage error into the exit status 2.
func adminUsage(err error) error {
	if errors.Is(err, admincmd.ErrUsage) {
		fmt.Fprintln(os.Stderr, err)
		return cli.ErrUsage
	}
	return err
}

func addUser(ctx context.Context, args []string) error {
	fs, client := adminFlags("add-user")
	name := fs.String("name", "", "user name")
	role := fs.String("role", "technician", "admin, senior, technician or viewer")
	companies := fs.String("companies", "", "comma-separated companies the user works for (empty: all)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return fmt.Errorf("-name is required")
	}
	pw, err := cli.NewPassword("password for "+*name+": ", "PEERDESK_PASSWORD")
	if err != nil {
		return err
	}
	var scope []string
	if *companies != "" {
		scope = strings.Split(*companies, ",")
	}
	if err := client().AddUser(ctx, *name, pw, *role, scope...); err != nil {
		return err
	}
	fmt.Printf("created %s (%s)\n", *name, *role)
	return nil
}

func token(ctx context.Context, args []string) error {
	fs, client := adminFlags("token")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token may be used")
	note := fs.String("note", "", "what the token is for")
	company := fs.String("company", "", "the company the enrolling machine is filed under (it cannot choose its own)")
	site := fs.String("site", "", "the site the enrolling machine is filed under")
	if err := parse(fs, args); err != nil {
		return err
	}
	tok, err := client().CreateTokenFor(ctx, wire.TokenRequest{TTL: wire.Duration(*ttl), Note: *note, Company: *company, Site: *site})
	if err != nil {
		return err
	}
	fmt.Println(tok.Token)
	fmt.Fprintf(os.Stderr, "single use, expires %s\n", tok.Expires.Local().Format(time.RFC1123))
	return nil
}

func status(ctx context.Context, args []string) error {
	fs, client := adminFlags("status")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := client().Status(ctx)
	if err != nil {
		return err
	}
	return printJSON(st)
}

func auditList(ctx context.Context, args []string) error {
	fs, client := adminFlags("audit")
	action := fs.String("action", "", "only this action")
	outcome := fs.String("outcome", "", "only this outcome (ok, denied)")
	if err := parse(fs, args); err != nil {
		return err
	}
	recs, err := client().Audit(ctx, *action, *outcome)
	if err != nil {
		return err
	}
	return printJSON(recs)
}

// auditSub is `peerdesk admin audit verify|export [-data DIR] [-format
// csv|json] [-since RFC3339]`.
func auditSub(sub string) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		fs, client := adminFlags("audit " + sub)
		var format, since *string
		if sub == "export" {
			format = fs.String("format", wire.AuditFormatJSON, "csv or json")
			since = fs.String("since", "", "only records from this time on (RFC 3339, e.g. 2026-12-01T00:00:00Z)")
		}
		if err := parse(fs, args); err != nil {
			return err
		}
		a := []string{sub}
		if sub == "export" {
			a = append(a, "-format", *format, "-since", *since)
		}
		return auditcmd.Run(ctx, client(), a, os.Stdout)
	}
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
