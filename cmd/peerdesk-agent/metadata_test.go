package main

import (
	"flag"
	"io"
	"testing"

	"github.com/peerdesk/peerdesk/wire"
)

func TestMetadataFlagsSetOnlyWhatIsGiven(t *testing.T) {
	fs := flag.NewFlagSet("reconfigure", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	set := metadataFlags(fs)
	if err := fs.Parse([]string{"-site", "Paris", "-device-type", "server", "-tag", ""}); err != nil {
		t.Fatal(err)
	}
	m := wire.Metadata{Name: "Reception", Company: "Acme", Site: "Berlin", Tag: "finance"}
	set(&m)
	want := wire.Metadata{Name: "Reception", Company: "Acme", Site: "Paris", DeviceType: "server", Tag: ""}
	if m != want {
		t.Fatalf("metadata = %+v, want %+v", m, want)
	}
}
