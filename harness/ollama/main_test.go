package ollama

import (
	"net"
	"strings"
	"testing"

	"github.com/ollama/ollama/api"

	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/wait"
)

// The tests run in a loopback-only network namespace of their own.
func TestMain(m *testing.M) { netns.Main(m) }

// TestServerStaysLocal: starting the server, creating the model (blob
// upload and create) and chatting send not one packet towards a non-local
// address: nothing is pulled, no registry or cloud is asked. The detector
// is shown to catch a deliberate packet first, and a marker sent after the
// chat shows it has looked at everything before.
func TestServerStaysLocal(t *testing.T) {
	leak.Check(t)
	bh, err := netns.NewBlackhole("olhole0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := bh.Close(); err != nil {
			t.Error(err)
		}
	})
	send := func(addr string) {
		c, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("x")) //nolint:errcheck // the packet is what the blackhole sees
		c.Close()
	}
	seen := func(what string) func() bool {
		return func() bool {
			for _, a := range bh.Attempts() {
				if a.String() == what {
					return true
				}
			}
			return false
		}
	}
	send("192.0.2.1:9")
	wait.For(t, "the blackhole to see a deliberate packet", seen("udp 192.0.2.1:9"))
	bh.Reset()

	srv := Start(t)
	model := srv.Create(t, "local", printer)
	chunks, _ := chat(t, srv.Client(), &api.ChatRequest{Model: model, Messages: user("printer")})
	if strings.Join(chunks, "") != printer.Reply {
		t.Fatalf("reply %q", chunks)
	}
	send("192.0.2.2:9")
	wait.For(t, "the blackhole to see the marker sent after the chat", seen("udp 192.0.2.2:9"))
	for _, a := range bh.Attempts() {
		if a.String() != "udp 192.0.2.2:9" {
			t.Errorf("the Ollama server tried to reach %v", a)
		}
	}
}
