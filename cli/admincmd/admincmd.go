// Package admincmd is `peerdesk admin user …` and `peerdesk admin device
// …`: account and device administration (M5) through the coordinator's
// local administration socket, whose caller is the coordinator's own
// operating-system user with an admin's powers. Every action is decided
// and audited by the coordinator (actor "local").
package admincmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

// Client is what the commands need of the coordinator; the local admin
// client (coordinator/adminclient.Client) is one.
type Client interface {
	AddUser(ctx context.Context, name, password, role string, companies ...string) error
	Users(ctx context.Context) ([]wire.UserInfo, error)
	UserAction(ctx context.Context, a wire.LocalUserAction) error
	Devices(ctx context.Context) ([]wire.AdminDevice, error)
	DeviceAction(ctx context.Context, a wire.LocalDeviceAction) error
}

// Password reads a new password with prompt (from the terminal without
// echo, or standard input); cli.Password is the one `peerdesk` uses.
type Password func(prompt string) (string, error)

// Usage lines.
const (
	UserUsage   = "usage: peerdesk admin user list | add -name N [-role R] [-companies A,B] | disable|enable|delete|passwd|unlock|end-sessions|reset-2fa -name N | role -name N -role R [-companies A,B]"
	DeviceUsage = "usage: peerdesk admin device list | remove|reset -id ID | move -id ID -company C [-site S]"
)

// ErrUsage is returned for a missing or unknown subcommand or bad flags.
var ErrUsage = errors.New("usage")

// User runs `user <args>`: args[0] is the subcommand, the rest its flags
// (each also takes the caller's -data flag, parsed before).
func User(ctx context.Context, c Client, args []string, password Password, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stdout, UserUsage)
		return ErrUsage
	}
	fs := flag.NewFlagSet("peerdesk admin user "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "user name")
	role := fs.String("role", "", "admin, senior, technician or viewer")
	companies := fs.String("companies", "", "comma-separated companies the user works for (empty: all)")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w: %v\n%s", ErrUsage, err, UserUsage)
	}
	var scope []string
	if *companies != "" {
		scope = strings.Split(*companies, ",")
	}
	sub := args[0]
	if sub == "list" {
		users, err := c.Users(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tCOMPANIES\t2FA\tSTATE")
		for _, u := range users {
			state := "enabled"
			if u.Disabled {
				state = "disabled"
			} else if u.LockedUntil.After(time.Now()) {
				state = "locked"
			}
			cos := strings.Join(u.Companies, ",")
			if cos == "" {
				cos = "(all)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, cos, onOff(u.TOTP), state)
		}
		return tw.Flush()
	}
	if *name == "" {
		return fmt.Errorf("%w: -name is required\n%s", ErrUsage, UserUsage)
	}
	a := wire.LocalUserAction{Name: *name, Action: sub}
	switch sub {
	case "add":
		if *role == "" {
			*role = "technician"
		}
		pw, err := password("password for " + *name + ": ")
		if err != nil {
			return err
		}
		if err := c.AddUser(ctx, *name, pw, *role, scope...); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s (%s)\n", *name, *role)
		return nil
	case wire.UserPassword:
		pw, err := password("new password for " + *name + ": ")
		if err != nil {
			return err
		}
		a.Password = pw
	case wire.UserRole:
		if *role == "" {
			return fmt.Errorf("%w: -role is required\n%s", ErrUsage, UserUsage)
		}
		a.Role, a.Companies = *role, scope
	case wire.UserDisable, wire.UserEnable, wire.UserDelete, wire.UserEndSessions, wire.UserUnlock, wire.UserReset2FA:
	default:
		return fmt.Errorf("%w: unknown user command %q\n%s", ErrUsage, sub, UserUsage)
	}
	if err := c.UserAction(ctx, a); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s done\n", *name, sub)
	return nil
}

// Device runs `device <args>`.
func Device(ctx context.Context, c Client, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stdout, DeviceUsage)
		return ErrUsage
	}
	fs := flag.NewFlagSet("peerdesk admin device "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	id := fs.String("id", "", "device id")
	company := fs.String("company", "", "move: the company to file the device under")
	site := fs.String("site", "", "move: the site")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w: %v\n%s", ErrUsage, err, DeviceUsage)
	}
	sub := args[0]
	if sub == "list" {
		devs, err := c.Devices(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tHOSTNAME\tOS\tCOMPANY\tSITE\tSTATE")
		for _, d := range devs {
			state := "offline"
			switch {
			case !d.Removed.IsZero():
				state = "removed " + d.Removed.Local().Format(time.DateTime)
			case d.Online:
				state = "online"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Hostname, d.OS, d.Company, d.Site, state)
		}
		return tw.Flush()
	}
	if *id == "" {
		return fmt.Errorf("%w: -id is required\n%s", ErrUsage, DeviceUsage)
	}
	a := wire.LocalDeviceAction{ID: *id, Action: sub}
	switch sub {
	case wire.DeviceRemove, wire.DeviceReset:
	case wire.DeviceMove:
		if *company == "" {
			return fmt.Errorf("%w: -company is required\n%s", ErrUsage, DeviceUsage)
		}
		a.Company, a.Site = *company, *site
	default:
		return fmt.Errorf("%w: unknown device command %q\n%s", ErrUsage, sub, DeviceUsage)
	}
	if err := c.DeviceAction(ctx, a); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s done\n", *id, sub)
	return nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
