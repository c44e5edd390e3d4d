package overlay_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/pki"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

func TestMain(m *testing.M) { netns.Main(m) }

func logger(t testing.TB) *slog.Logger {
	if os.Getenv("PEERDESK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

type coord struct {
	url string
	id  *pki.Identity
	ov  *overlay.Server

	// close stops the HTTP server and the control plane, as the
	// coordinator does; the test's cleanup calls it too.
	close func()
}

// startCoordinator starts a control plane behind a TLS server on
// loopback; opts change its configuration.
func startCoordinator(t *testing.T, opts ...func(*overlay.Config)) *coord {
	t.Helper()
	dir := t.TempDir()
	id, err := pki.LoadOrCreate(dir+"/pki", []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	url := "https://127.0.0.1:" + strconv.Itoa(port)
	cfg := overlay.Config{
		Dir: dir + "/overlay", ServerURL: url,
		DERPIPv4: "127.0.0.1", DERPPort: port, DERPCertSHA256: id.LeafSHA256(),
		STUNAddr: "127.0.0.1:0", Policy: policy.OverlayACL(), Logger: logger(t),
	}
	for _, o := range opts {
		o(&cfg)
	}
	ov, err := overlay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := ov.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: ov.Handler(), TLSConfig: id.TLSConfig()}
	go srv.ServeTLS(ln, "", "")
	var once sync.Once
	closeAll := func() {
		once.Do(func() {
			if err := srv.Close(); err != nil {
				t.Errorf("closing the HTTP server: %v", err)
			}
			cancel()
			if err := ov.Close(); err != nil {
				t.Errorf("closing the overlay: %v", err)
			}
		})
	}
	t.Cleanup(closeAll)
	return &coord{url: url, id: id, ov: ov, close: closeAll}
}

func (c *coord) join(t *testing.T, name, tag string, ephemeral bool) *node.Node {
	t.Helper()
	k, err := c.ov.CreateAuthKey(overlay.KeyOptions{Tags: []string{tag}, Ephemeral: ephemeral})
	if err != nil {
		t.Fatal(err)
	}
	return c.joinWith(t, name, k)
}

// joinWith brings a node up with pre-auth key k.
func (c *coord) joinWith(t *testing.T, name string, k overlay.AuthKey) *node.Node {
	t.Helper()
	n, err := node.New(node.Config{Dir: t.TempDir(), Hostname: name, ControlURL: c.url, CA: c.id.CA, AuthKey: k.Key, Logger: logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Up(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func TestTechnicianReachesAgent(t *testing.T) {
	c := startCoordinator(t)
	agent := c.join(t, "agent-1", wire.TagAgent, false)
	ln, err := agent.Listen("tcp", fmt.Sprintf(":%d", wire.PeerPort))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			id, err := agent.WhoIs(context.Background(), conn.RemoteAddr().String())
			if err != nil {
				fmt.Fprintf(conn, "whois error: %v\n", err)
			} else {
				fmt.Fprintf(conn, "hello %s %v\n", id.Name, id.Tags)
			}
			conn.Close()
		}
	}()
	agentIP, err := agent.Addr()
	if err != nil {
		t.Fatal(err)
	}

	tech := c.join(t, "tech-1", wire.TagTech, true)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	conn, err := tech.Dial(ctx, "tcp", fmt.Sprintf("%s:%d", agentIP, wire.PeerPort))
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first call after Up: %v: %q", time.Since(start), line)
	if want := "hello tech-1 [" + wire.TagTech + "]\n"; line != want {
		t.Fatalf("got %q, want %q", line, want)
	}
}
