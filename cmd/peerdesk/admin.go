package main

import (
	"context"
	"encoding/json"
	"errors"
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

func admin(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: peerdesk admin add-user|user|device|token|status|audit [verify|export] [flags]")
		return cli.ErrUsage
	}
	fs := cli.Flags("peerdesk", "admin "+args[0])
	data := fs.String("data", "/var/lib/peerdesk", "the coordinator's data directory")
	client := func() *adminclient.Client { return adminclient.New(filepath.Join(*data, coordinator.SocketName)) }
	switch args[0] {
	case "user", "device":
		// peerdesk admin user|device SUB [-data DIR] [flags of SUB]
		if len(args) < 2 {
			fmt.Fprintln(os.Stderr, admincmd.UserUsage+"\n"+admincmd.DeviceUsage)
			return cli.ErrUsage
		}
		var pass []string
		for _, f := range []string{"name", "role", "companies", "id", "company", "site"} {
			fs.Func(f, "see the usage", func(v string) error { pass = append(pass, "-"+f, v); return nil })
		}
		if err := fs.Parse(args[2:]); err != nil {
			return err
		}
		sub := append([]string{args[1]}, pass...)
		var err error
		if args[0] == "user" {
			err = admincmd.User(ctx, client(), sub, func(prompt string) (string, error) {
				return cli.Password(prompt, "PEERDESK_PASSWORD")
			}, os.Stdout)
		} else {
			err = admincmd.Device(ctx, client(), sub, os.Stdout)
		}
		if errors.Is(err, admincmd.ErrUsage) {
			fmt.Fprintln(os.Stderr, err)
			return cli.ErrUsage
		}
		return err
	case "add-user":
		name := fs.String("name", "", "user name")
		role := fs.String("role", "technician", "admin, senior, technician or viewer")
		companies := fs.String("companies", "", "comma-separated companies the user works for (empty: all)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *name == "" {
			return fmt.Errorf("-name is required")
		}
		pw, err := cli.Password("password for "+*name+": ", "PEERDESK_PASSWORD")
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
	case "token":
		ttl := fs.Duration("ttl", 24*time.Hour, "how long the token may be used")
		note := fs.String("note", "", "what the token is for")
		company := fs.String("company", "", "the company the enrolling machine is filed under (it cannot choose its own)")
		site := fs.String("site", "", "the site the enrolling machine is filed under")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		tok, err := client().CreateTokenFor(ctx, wire.TokenRequest{TTL: wire.Duration(*ttl), Note: *note, Company: *company, Site: *site})
		if err != nil {
			return err
		}
		fmt.Println(tok.Token)
		fmt.Fprintf(os.Stderr, "single use, expires %s\n", tok.Expires.Local().Format(time.RFC1123))
		return nil
	case "status":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		st, err := client().Status(ctx)
		if err != nil {
			return err
		}
		return printJSON(st)
	case "audit":
		if len(args) > 1 && (args[1] == "verify" || args[1] == "export") {
			// peerdesk admin audit verify|export [-data DIR] [-format csv|json] [-since RFC3339]
			format := fs.String("format", "json", "export: csv or json")
			since := fs.String("since", "", "export: only records from this time on (RFC 3339)")
			if err := fs.Parse(args[2:]); err != nil {
				return err
			}
			sub := []string{args[1]}
			if args[1] == "export" {
				sub = append(sub, "-format", *format, "-since", *since)
			}
			return auditcmd.Run(ctx, client(), sub, os.Stdout)
		}
		action := fs.String("action", "", "only this action")
		outcome := fs.String("outcome", "", "only this outcome (ok, denied)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		recs, err := client().Audit(ctx, *action, *outcome)
		if err != nil {
			return err
		}
		return printJSON(recs)
	}
	return fmt.Errorf("unknown admin command %q", args[0])
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
