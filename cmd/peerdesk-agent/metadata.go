package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/peerdesk/peerdesk/agent"
	"github.com/peerdesk/peerdesk/cli"
	"github.com/peerdesk/peerdesk/wire"
)

// metadataFields are the U4 flags, the Metadata field each sets and its
// help. The company and site are only reported: the coordinator files the
// machine under the ones its enrollment token names, and only an admin
// moves it (M6).
var metadataFields = []struct {
	flag  string
	field func(*wire.Metadata) *string
	usage string
}{
	{"name", func(m *wire.Metadata) *string { return &m.Name }, "the machine's name in the Access view"},
	{"company", func(m *wire.Metadata) *string { return &m.Company }, reportedOnly("company")},
	{"site", func(m *wire.Metadata) *string { return &m.Site }, reportedOnly("site")},
	{"department", func(m *wire.Metadata) *string { return &m.Department }, "the machine's department in the Access view"},
	{"device-type", func(m *wire.Metadata) *string { return &m.DeviceType }, "the machine's device-type in the Access view"},
	{"tag", func(m *wire.Metadata) *string { return &m.Tag }, "the machine's tag in the Access view"},
}

// reportedOnly is the help of a flag the coordinator does not file by.
func reportedOnly(what string) string {
	return "the " + what + " this machine reports about itself (the agent's own consent rules use it); " +
		"only reported, not used for filing: the coordinator files the machine under the " + what +
		" its enrollment token names, and only an admin moves it"
}

// metadataFlags declares the filing flags on fs; the returned function
// copies the flags that were given (and only those) into a Metadata.
// -custom name=value (repeatable) sets a custom field, -custom name=
// removes it.
func metadataFlags(fs *flag.FlagSet) func(*wire.Metadata) {
	given := map[string]*string{}
	for _, f := range metadataFields {
		given[f.flag] = fs.String(f.flag, "", f.usage)
	}
	var custom customFlags
	fs.Var(&custom, "custom", "a custom field as name=value (repeatable; name= removes it)")
	return func(m *wire.Metadata) {
		fs.Visit(func(fl *flag.Flag) {
			for _, f := range metadataFields {
				if f.flag == fl.Name {
					*f.field(m) = *given[fl.Name]
				}
			}
		})
		for _, kv := range custom {
			if kv[1] == "" {
				delete(m.Custom, kv[0])
				continue
			}
			if m.Custom == nil {
				m.Custom = map[string]string{}
			}
			m.Custom[kv[0]] = kv[1]
		}
		if len(m.Custom) == 0 {
			m.Custom = nil
		}
	}
}

// customFlags collects -custom name=value in order.
type customFlags [][2]string

func (c *customFlags) String() string { return fmt.Sprint(*c) }

func (c *customFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want name=value (name= removes the field), got %q", s)
	}
	*c = append(*c, [2]string{k, v})
	return nil
}

func reconfigure(_ context.Context, args []string) error {
	fs := cli.Flags("peerdesk-agent", "reconfigure")
	dir := fs.String("state", agent.DefaultStateDir(), "state directory")
	set := metadataFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	md, err := agent.Reconfigure(*dir, set)
	if err != nil {
		return err
	}
	fmt.Printf("reports name=%q company=%q site=%q department=%q device-type=%q tag=%q",
		md.Name, md.Company, md.Site, md.Department, md.DeviceType, md.Tag)
	for _, k := range slices.Sorted(maps.Keys(md.Custom)) {
		fmt.Printf(" %s=%q", k, md.Custom[k])
	}
	fmt.Println()
	fmt.Println("(the coordinator files the machine under the company and site of its enrollment token; an admin moves it)")
	return nil
}
