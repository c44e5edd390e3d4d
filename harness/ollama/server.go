// Package ollama runs a real Ollama server for tests, with a tiny model
// written at test time whose greedy decoding follows scripted chains.
//
// # Server
//
// Start runs the Ollama binary that scripts/ollama-build.sh (`just ollama`)
// built from the pinned version's Go module source, found at $PEERDESK_OLLAMA
// or in ${XDG_CACHE_HOME:-$HOME/.cache}/peerdesk/ollama-<Version>/ollama. When
// it is absent the test is skipped with a message naming `just ollama`; it
// never passes without the server. The server listens on a free 127.0.0.1
// port (OLLAMA_HOST), keeps its key and models in the test's temporary
// directory (HOME, OLLAMA_MODELS), has cloud features off (OLLAMA_NO_CLOUD)
// and runs in a process group of its own that is killed at cleanup, with the
// model runners it starts. Nothing is ever pulled: models are created from a
// GGUF blob uploaded to the server (POST /api/blobs/sha256:…, then
// /api/create with files).
//
// # Scripted model
//
// Server.Create writes a llama-architecture GGUF (2 layers, hidden 64 — a
// multiple of 64 when many scripts need more —, a few hundred tokens, all
// float32) with Ollama's own fs/ggml.WriteGGUF and
// creates it on the server with Template and the built-in "qwen3" parser.
// Its query, key and feed-forward weights are zero, so a layer's attention
// is uniform over the context and copies only what its value projection
// keeps; layer 0 keeps the triggers' directions. The next token is then a
// function of the current token and of which trigger words the prompt
// holds: a Markov chain whose first step is chosen by the trigger in the
// last message (the template renders only that message). So each Script
// yields its Reply exactly, token by token: plain text, a <tool_call> block
// that Ollama's parser returns as message.tool_calls (any tool name, as
// with a real model), or JSON that a format schema's grammar accepts (keys
// in alphabetical order, as llama.cpp's schema grammar orders them). A
// message with no trigger gets an empty reply. The model runs with
// num_thread 1: ggml's spinning thread pool made a 10-token reply take from
// 10 ms to 7 s on a busy 2-core machine; one thread answers in about 1 ms.
//
//	srv := ollama.Start(t)
//	model := srv.Create(t, "helpdesk", ollama.Script{Trigger: "printer", Reply: "Is it on?"},
//		ollama.ToolCall{Trigger: "slow", Name: "disk", Args: map[string]any{"path": "/"}}.Script())
//	err := srv.Client().Chat(ctx, &api.ChatRequest{Model: model, Messages: ...}, fn)
package ollama

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/peerdesk/peerdesk/harness/wait"
)

// Version is the Ollama release the tests run against; scripts/ollama-build.sh
// builds the same.
const Version = "0.17.4"

// Binary returns the path of the built Ollama server, or "" and why not.
func Binary() (string, string) {
	if p := os.Getenv("PEERDESK_OLLAMA"); p != "" {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return "", fmt.Sprintf("$PEERDESK_OLLAMA=%s is not a file", p)
		}
		return p, ""
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", "no home directory to find the Ollama cache in"
		}
		cache = filepath.Join(home, ".cache")
	}
	p := filepath.Join(cache, "peerdesk", "ollama-"+Version, "ollama")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Sprintf("no Ollama %s server at %s: run `just ollama` (scripts/ollama-build.sh) to build it", Version, p)
	}
	return p, ""
}

// Server is a running Ollama server.
type Server struct {
	// URL is the server's base URL (http://127.0.0.1:port).
	URL *url.URL
	// Started is how long the server took from exec to answering
	// GET /api/version.
	Started time.Duration

	cmd  *exec.Cmd
	dir  string
	done chan struct{}
	mu   sync.Mutex
	log  strings.Builder
}

// Start runs an Ollama server for the test and stops it (and every runner
// it started) at cleanup. It skips the test when the server is not built.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, why := Binary()
	if bin == "" {
		t.Skipf("harness/ollama: %s", why)
	}
	dir := t.TempDir()
	for _, d := range []string{"home", "models", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	var s *Server
	// A free port can be taken by someone else between our close and the
	// server's bind: try a few.
	var lastErr error
	for range 3 {
		s, lastErr = start(t, bin, dir)
		if lastErr == nil {
			return s
		}
	}
	t.Fatalf("harness/ollama: %v", lastErr)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func start(t testing.TB, bin, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "serve")
	// Only what we set: no OLLAMA_* of the caller's environment leaks in.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(dir, "home"),
		"TMPDIR=" + filepath.Join(dir, "tmp"),
		"OLLAMA_HOST=" + host,
		"OLLAMA_MODELS=" + filepath.Join(dir, "models"),
		"OLLAMA_NO_CLOUD=1",
		"OLLAMA_NOPRUNE=1",
		"OLLAMA_NUM_PARALLEL=1",
		"OLLAMA_MAX_LOADED_MODELS=1",
		"OLLAMA_KEEP_ALIVE=1h",
		"OLLAMA_DEBUG=1",
	}
	// Its own process group, so cleanup ends the runners it forks; and
	// SIGKILL when the test process dies.
	cmd.SysProcAttr = groupAttr()
	s := &Server{URL: &url.URL{Scheme: "http", Host: host}, cmd: cmd, dir: dir, done: make(chan struct{})}
	w := writerFunc(func(b []byte) (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.log.Len() < 8<<20 {
			s.log.Write(b)
		}
		if os.Getenv("PEERDESK_TEST_LOG") != "" {
			os.Stderr.Write(b)
		}
		return len(b), nil
	})
	cmd.Stdout, cmd.Stderr = w, w
	// Pdeathsig follows the thread that forks (go.dev/issue/27505): that
	// goroutine keeps its thread until the server has exited.
	started := make(chan error, 1)
	begin := time.Now()
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			close(s.done)
			return
		}
		started <- nil
		cmd.Wait() //nolint:errcheck // exit status read through ProcessState
		close(s.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	t.Cleanup(s.stop)
	client := s.Client()
	err = wait.Until(wait.Timeout, func() error {
		select {
		case <-s.done:
			return nil
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		v, err := client.Version(ctx)
		if err != nil {
			return err
		}
		if v != Version {
			return fmt.Errorf("server says version %q, want %q", v, Version)
		}
		return nil
	})
	select {
	case <-s.done:
		return nil, fmt.Errorf("ollama serve on %s exited: %s\n%s", host, s.cmd.ProcessState, s.Log())
	default:
	}
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("ollama serve on %s never answered /api/version: %v\n%s", host, err, s.Log())
	}
	s.Started = time.Since(begin)
	return s, nil
}

// stop kills the server's process group and waits for the server.
func (s *Server) stop() {
	killGroup(s.cmd.Process)
	<-s.done
}

// Stop ends the server now (the model "goes down"); cleanup does it anyway.
func (s *Server) Stop() { s.stop() }

// Log is what the server has written so far (it runs with OLLAMA_DEBUG=1).
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// Client is an Ollama API client for the server.
func (s *Server) Client() *api.Client {
	return api.NewClient(s.URL, &http.Client{})
}

// Create writes a scripted model (see the package doc), uploads it as a
// blob and creates it on the server as name; it returns name. Options for
// every request to it: temperature 0 (greedy).
func (s *Server) Create(t testing.TB, name string, scripts ...Script) string {
	t.Helper()
	if err := s.CreateModel(context.Background(), name, scripts...); err != nil {
		t.Fatalf("harness/ollama: %v", err)
	}
	return name
}

// CreateModel is Create without a test.
func (s *Server) CreateModel(ctx context.Context, name string, scripts ...Script) error {
	path := filepath.Join(s.dir, name+".gguf")
	if err := WriteGGUF(path, scripts); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	client := s.Client()
	if err := client.CreateBlob(ctx, digest, f); err != nil {
		return fmt.Errorf("uploading %s: %w", digest, err)
	}
	var last string
	err = client.Create(ctx, &api.CreateRequest{
		Model:      name,
		Files:      map[string]string{name + ".gguf": digest},
		Template:   Template,
		Parser:     Parser,
		Parameters: map[string]any{"temperature": 0, "num_thread": 1},
	}, func(p api.ProgressResponse) error { last = p.Status; return nil })
	if err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	if last != "success" {
		return fmt.Errorf("creating %s: last status %q", name, last)
	}
	return nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
