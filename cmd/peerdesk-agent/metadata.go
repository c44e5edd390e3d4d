package main

import (
	"context"
	"flag"
	"fmt"

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
func metadataFlags(fs *flag.FlagSet) func(*wire.Metadata) {
	given := map[string]*string{}
	for _, f := range metadataFields {
		given[f.flag] = fs.String(f.flag, "", "the machine's "+f.flag+" in the Access view")
	}
	return func(m *wire.Metadata) {
		fs.Visit(func(fl *flag.Flag) {
			for _, f := range metadataFields {
				if f.flag == fl.Name {
					*f.field(m) = *given[fl.Name]
				}
			}
		})
	}
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
	fmt.Printf("filed as name=%q company=%q site=%q department=%q device-type=%q tag=%q\n",
		md.Name, md.Company, md.Site, md.Department, md.DeviceType, md.Tag)
	return nil
}
