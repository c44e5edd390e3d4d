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

// metadataFields are the U4 filing flags and the Metadata field each sets.
var metadataFields = []struct {
	flag  string
	field func(*wire.Metadata) *string
}{
	{"name", func(m *wire.Metadata) *string { return &m.Name }},
	{"company", func(m *wire.Metadata) *string { return &m.Company }},
	{"site", func(m *wire.Metadata) *string { return &m.Site }},
	{"department", func(m *wire.Metadata) *string { return &m.Department }},
	{"device-type", func(m *wire.Metadata) *string { return &m.DeviceType }},
	{"tag", func(m *wire.Metadata) *string { return &m.Tag }},
}

// metadataFlags declares the filing flags on fs; the returned function
// copies the flags that were given (and only those) into a Metadata.
// -custom name=value (repeatable) sets a custom field, -custom name=
// removes it.
func metadataFlags(fs *flag.FlagSet) func(*wire.Metadata) {
	given := map[string]*string{}
	for _, f := range metadataFields {
		given[f.flag] = fs.String(f.flag, "", "the machine's "+f.flag+" in the Access view")
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
	fmt.Printf("filed as name=%q company=%q site=%q department=%q device-type=%q tag=%q",
		md.Name, md.Company, md.Site, md.Department, md.DeviceType, md.Tag)
	for _, k := range slices.Sorted(maps.Keys(md.Custom)) {
		fmt.Printf(" %s=%q", k, md.Custom[k])
	}
	fmt.Println()
	return nil
}
