package main

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/wire"
)

func TestMetadataFlagsSetOnlyWhatIsGiven(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("reconfigure", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	set := metadataFlags(fs)
	if err := fs.Parse([]string{"-site", "Paris", "-device-type", "server", "-tag", "",
		"-custom", "asset=INV-7", "-custom", "cost-centre=", "-custom", "note=a=b"}); err != nil {
		t.Fatal(err)
	}
	m := wire.Metadata{Name: "Reception", Company: "Acme", Site: "Berlin", Tag: "finance",
		Custom: map[string]string{"cost-centre": "40", "floor": "2"}}
	set(&m)
	want := wire.Metadata{Name: "Reception", Company: "Acme", Site: "Paris", DeviceType: "server", Tag: "",
		Custom: map[string]string{"asset": "INV-7", "floor": "2", "note": "a=b"}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("metadata = %+v, want %+v", m, want)
	}
	// Removing the last field leaves none.
	fs = flag.NewFlagSet("reconfigure", flag.ContinueOnError)
	set = metadataFlags(fs)
	if err := fs.Parse([]string{"-custom", "asset=", "-custom", "floor=", "-custom", "note="}); err != nil {
		t.Fatal(err)
	}
	set(&m)
	if m.Custom != nil {
		t.Fatalf("custom fields left: %v", m.Custom)
	}
}

func TestCustomFlagRejects(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"asset", "=INV-7", ""} {
		fs := flag.NewFlagSet("enroll", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		metadataFlags(fs)
		if err := fs.Parse([]string{"-custom", bad}); err == nil {
			t.Errorf("-custom %q accepted", bad)
		}
	}
}

// TestM6CompanySiteFlagsSayReportedOnly: -company and -site do not file
// the machine (the enrollment token does, M6), and their help says so.
func TestM6CompanySiteFlagsSayReportedOnly(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("enroll", flag.ContinueOnError)
	metadataFlags(fs)
	for _, name := range []string{"company", "site"} {
		f := fs.Lookup(name)
		if f == nil {
			t.Fatalf("no -%s flag", name)
		}
		if !strings.Contains(f.Usage, "not used for filing") || !strings.Contains(f.Usage, "enrollment token") {
			t.Errorf("-%s help = %q: it does not say the enrollment token files the machine", name, f.Usage)
		}
	}
}
