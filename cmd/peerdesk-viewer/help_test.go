package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/peerdesk/peerdesk/cli/clitest"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/wire"
)

func TestMain(m *testing.M) { clitest.Main(m, "peerdesk-viewer", main) }

// TestHelp: every command and subcommand of peerdesk-viewer, as its dispatch table
// has them, answers -h, --help and help with what it does and its flags,
// and exits 0.
func TestHelp(t *testing.T) {
	clitest.CheckHelp(t, "peerdesk-viewer", commands())
}

// TestLoginChecksPinFirst: login with a pin that does not match the
// coordinator's CA fails on the pin without reading a password: its
// standard input stays open and unwritten, so a login that asked first
// would wait on it, not exit.
func TestLoginChecksPinFirst(t *testing.T) {
	leak.Check(t)
	// A coordinator that serves its CA, whose pin is not the one given.
	var ca atomic.Pointer[[]byte]
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != wire.PathCA {
			http.NotFound(w, r)
			return
		}
		w.Write(*ca.Load())
	}))
	defer srv.Close()
	pem := trust.EncodeCA(srv.Certificate())
	ca.Store(&pem)
	cmd := clitest.Command(t, "login", "-state", t.TempDir(), "-coordinator", srv.URL, "-pin", "sha256:"+strings.Repeat("00", 32), "-user", "ann")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cmd.Stdin = r
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	t.Cleanup(func() { cmd.Process.Kill() }) //nolint:errcheck // it has exited unless the test failed
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	err = wait.Recv(t, "login with a wrong pin to exit (not wait for a password)", exited)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(out.String(), trust.ErrPinMismatch.Error()) {
		t.Fatalf("login with a wrong pin: %v, %q; want exit 1 naming the pin", err, out.String())
	}
}
