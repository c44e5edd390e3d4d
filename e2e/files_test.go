package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/peerdesk/peerdesk/agent"
	"github.com/peerdesk/peerdesk/coordinator"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/viewer/webui"
	"github.com/peerdesk/peerdesk/wire"
)

// awaitPromise makes chromedp.Evaluate wait for the script's promise.
func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

// dropJS makes a file of n pseudo-random bytes (seeded) in the page,
// drops it on the page as a person dragging it from their desktop would
// (a drop event carrying a DataTransfer, as Playwright and chromedp
// simulate drag and drop), and answers the file's SHA-256.
const dropJS = `(async (name, n, seed) => {
  const b = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; b[i] = x >>> 24; }
  const dt = new DataTransfer();
  dt.items.add(new File([b], name));
  document.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  const d = await crypto.subtle.digest('SHA-256', b);
  return Array.from(new Uint8Array(d), (v) => v.toString(16).padStart(2, '0')).join('');
})`

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// dropPaths drags paths from the desktop onto the middle of the page
// through the browser's own drag and drop (Input.dispatchDragEvent),
// which, unlike a DataTransfer made in the page, carries a folder as a
// folder.
func dropPaths(t *testing.T, tab context.Context, paths ...string) {
	t.Helper()
	var mid []float64
	harness.Do(t, tab, "drag "+strings.Join(paths, ", ")+" onto the page",
		chromedp.Evaluate(`[innerWidth / 2, innerHeight / 2]`, &mid),
		chromedp.ActionFunc(func(c context.Context) error {
			d := &input.DragData{Files: paths, DragOperationsMask: 1} // copy
			for _, ty := range []input.DispatchDragEventType{input.DragEnter, input.DragOver, input.Drop} {
				if err := input.DispatchDragEvent(ty, mid[0], mid[1], d).Do(c); err != nil {
					return fmt.Errorf("%s: %w", ty, err)
				}
			}
			return nil
		}))
}

// tree describes the folder dir: each path under it, a folder as "/" and
// a file as its SHA-256.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			out[filepath.ToSlash(rel)] = "/"
		} else {
			out[filepath.ToSlash(rel)] = fileSHA(t, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// transfer is an upload in the page's queue as the test reads it.
type transfer struct {
	Name  string `json:"name"`
	State string `json:"state"`
	Done  int64  `json:"done"`
	Sent  int64  `json:"sent"`
	Size  int64  `json:"size"`
	Error string `json:"error"`
	// FailedAt is the offset the agent had confirmed when a chunk first
	// failed; ResumedAt where the agent said the upload stood after it.
	FailedAt  int64 `json:"failedAt"`
	ResumedAt int64 `json:"resumedAt"`
}

const queueJS = `window.peerdeskFiles.queue.map((q) => ({name: q.name, state: q.state, done: q.done, sent: q.sent, size: q.size, error: q.error || '', failedAt: q.failedAt ?? -1, resumedAt: q.resumedAt ?? -2}))`

// TestFiles (R3, issue 13 item 2): a technician browses a machine's
// files in their viewer page, drops a file on the page (uploaded in
// checked chunks, visible under its name only once complete) and a
// folder (its tree made on the machine, empty folders too), downloads
// one through the page's link, and uploads a large file during which the
// network link goes down and comes back: the upload continues from the
// agent's last confirmed chunk, loses at most one chunk, and the file
// arrives with its SHA-256 checked. Refused: no grant, a grant without
// files, a role without files, and paths that climb out.
func TestFiles(t *testing.T) {
	harness.Begin(t)
	if !netns.Inside() {
		t.Fatal("this test takes the network down: it must run in the test's own namespace")
	}
	const dev, addr = "pdfiles0", "10.78.0.1"
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("link", "add", dev, "type", "veth", "peer", "name", dev+"p")
	t.Cleanup(func() { exec.Command("ip", "link", "del", dev).Run() }) //nolint:errcheck // best effort
	ip("addr", "add", addr+"/32", "dev", dev)
	ip("link", "set", dev+"p", "up")
	ip("link", "set", dev, "up")

	c := harness.StartCoordinator(t, func(cfg *coordinator.Config) {
		cfg.Listen, cfg.STUNListen, cfg.PublicHost = addr+":0", addr+":0", addr
	})
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "docs", "readme.txt"), []byte("read me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hello := strings.Repeat("hello, technician\n", 5000)
	if err := os.WriteFile(filepath.Join(root, "hello.txt"), []byte(hello), 0o644); err != nil {
		t.Fatal(err)
	}
	a := c.EnrollAgent(t, "files-pc", func(cfg *agent.Config) { cfg.FilesRoot, cfg.Unattended = root, true })
	alice := c.LoginViewer(t, c.AddTechnician(t, "alice"))
	ui, err := webui.Start(ctx(t), webui.Config{Viewer: alice, Listen: "127.0.0.1:0", Logger: harness.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ui.Close() })
	tab := harness.StartBrowser(t).Ctx
	page := ui.Base() + "/device/" + a.DeviceID() + "/files"

	// Browse: the top, then a folder by its link, with breadcrumbs.
	var listing, crumbs string
	harness.Do(t, tab, "browse the machine's files",
		chromedp.Navigate(ui.URL()),
		chromedp.WaitVisible(`#sessions`, chromedp.ByQuery),
		chromedp.Navigate(page),
		chromedp.WaitVisible(`#listing`, chromedp.ByQuery),
		chromedp.Text(`#listing`, &listing, chromedp.ByQuery),
		chromedp.Click(`a.dir`, chromedp.ByQuery),
		chromedp.WaitVisible(`tr[data-name="readme.txt"]`, chromedp.ByQuery),
		chromedp.Text(`#crumbs`, &crumbs, chromedp.ByQuery),
	)
	if !strings.Contains(listing, "docs/") || !strings.Contains(listing, "hello.txt") || !strings.Contains(listing, "87.9 KiB") || !strings.Contains(listing, "-rw-r--r--") {
		t.Errorf("the top's listing: %q", listing)
	}
	if !strings.Contains(crumbs, "top") || !strings.Contains(crumbs, "docs") {
		t.Errorf("breadcrumbs: %q", crumbs)
	}

	// Download through the page's own link.
	var got string
	harness.Do(t, tab, "download hello.txt",
		chromedp.Navigate(page),
		chromedp.WaitVisible(`tr[data-name="hello.txt"]`, chromedp.ByQuery),
		chromedp.Evaluate(`(async () => {
			const r = await fetch(document.querySelector('tr[data-name="hello.txt"] a.file').href);
			if (!r.ok) return 'HTTP ' + r.status;
			const d = await crypto.subtle.digest('SHA-256', await r.arrayBuffer());
			return Array.from(new Uint8Array(d), (v) => v.toString(16).padStart(2, '0')).join('');
		})()`, &got, awaitPromise),
	)
	if want := fileSHA(t, filepath.Join(root, "hello.txt")); got != want {
		t.Fatalf("downloaded SHA-256 %s, want %s", got, want)
	}

	// Upload by drag and drop: two chunks and a bit.
	var sum string
	harness.Do(t, tab, "drop a file on the page",
		chromedp.Evaluate(dropJS+`('dropped.bin', 9<<20, 7)`, &sum, awaitPromise))
	queued := func(name string) transfer {
		var q []transfer
		if err := chromedp.Run(tab, chromedp.Evaluate(queueJS, &q)); err != nil {
			t.Fatal(err)
		}
		for _, it := range q {
			if it.Name == name {
				return it
			}
		}
		return transfer{}
	}
	wait.ForErr(t, "the dropped file to upload", func() error {
		if it := queued("dropped.bin"); it.State != "done" {
			return fmt.Errorf("%+v", it)
		}
		return nil
	})
	if got := fileSHA(t, filepath.Join(root, "dropped.bin")); got != sum {
		t.Fatalf("the dropped file on the machine: SHA-256 %s, want %s", got, sum)
	}
	harness.Do(t, tab, "see it listed", chromedp.WaitVisible(`tr[data-name="dropped.bin"]`, chromedp.ByQuery))

	// A folder dropped on the page: its folders are made before their
	// files (the agent makes no parent folders), an empty one too, and
	// one already on the machine will do.
	src := filepath.Join(t.TempDir(), "tree")
	for _, d := range []string{"sub", "empty"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := make([]byte, wire.UploadChunk+1234) // two chunks
	rand.NewChaCha8([32]byte{13}).Read(bin)    //nolint:errcheck // never fails
	for name, b := range map[string][]byte{"a.txt": []byte("in the folder\n"), "sub/b.bin": bin} {
		if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "tree"), 0o755); err != nil {
		t.Fatal(err)
	}
	dropPaths(t, tab, src)
	want := []string{"tree/", "tree/a.txt", "tree/empty/", "tree/sub/", "tree/sub/b.bin"}
	wait.ForErr(t, "the dropped folder to upload", func() error {
		for _, name := range want {
			it := queued(name)
			if it.State == "failed" {
				t.Fatalf("%s in the queue: %+v", name, it)
			}
			if it.State != "done" {
				return fmt.Errorf("%s: %+v", name, it)
			}
		}
		return nil
	})
	if got, wantTree := tree(t, filepath.Join(root, "tree")), tree(t, src); !maps.Equal(got, wantTree) {
		t.Fatalf("the folder on the machine: %v, want %v", got, wantTree)
	}
	if names := partials(t, filepath.Join(root, "tree", "sub")); len(names) != 0 {
		t.Fatalf("partial files left: %v", names)
	}

	// A large upload; the link goes down mid-way and comes back.
	const big = 10 * wire.UploadChunk
	// The queue pauses by itself once two chunks are on the machine, so the
	// link goes down while the upload is half done (on a fast link a pause
	// asked for after seeing two chunks came after the last); the next
	// chunk meets it down.
	if err := chromedp.Run(tab, chromedp.Evaluate(`window.peerdeskFiles.pauseAt(`+fmt.Sprint(2*wire.UploadChunk)+`)`, nil)); err != nil {
		t.Fatal(err)
	}
	harness.Do(t, tab, "drop a large file",
		chromedp.Evaluate(dropJS+`('big.bin', `+fmt.Sprint(big)+`, 11)`, &sum, awaitPromise))
	wait.ForErr(t, "the queue to pause half-way", func() error {
		if it := queued("big.bin"); it.State != "paused" || it.Done < 2*wire.UploadChunk || it.Done >= big {
			return fmt.Errorf("%+v", it)
		}
		return nil
	})
	if names := partials(t, root); len(names) != 1 {
		t.Fatalf("mid-way the machine holds %v; want only big.bin's hidden partial", names)
	}
	ip("addr", "del", addr+"/32", "dev", dev)
	if err := chromedp.Run(tab, chromedp.Evaluate(`window.peerdeskFiles.resume()`, nil)); err != nil {
		t.Fatal(err)
	}
	if err := wait.Until(2*harness.Timeout, func() error {
		if it := queued("big.bin"); it.State != "retrying" {
			return fmt.Errorf("%+v", it)
		}
		return nil
	}); err != nil {
		t.Fatalf("the upload never noticed the link down: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "big.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("big.bin under its final name before it is complete: %v", err)
	}
	ip("addr", "add", addr+"/32", "dev", dev)
	back := time.Now()
	if err := wait.Until(3*harness.Timeout, func() error {
		if it := queued("big.bin"); it.State != "done" {
			return fmt.Errorf("%+v", it)
		}
		return nil
	}); err != nil {
		t.Fatalf("the upload did not finish after the link came back: %v", err)
	}
	t.Logf("the upload finished %v after the link came back", time.Since(back).Round(time.Millisecond))
	if got := fileSHA(t, filepath.Join(root, "big.bin")); got != sum {
		t.Fatalf("big.bin on the machine: SHA-256 %s, want %s", got, sum)
	}
	// The upload continued from the chunk the agent had confirmed when
	// the link went down, not from zero: what the cut cost is the one
	// chunk on its way then (the page sends one at a time).
	if it := queued("big.bin"); it.FailedAt < 2*wire.UploadChunk || it.ResumedAt != it.FailedAt {
		t.Fatalf("the first try failed with %d bytes confirmed and the upload resumed at %d; want the same, at least two chunks in", it.FailedAt, it.ResumedAt)
	} else {
		t.Logf("resumed at %d of %d bytes; %d chunk bytes handed to the viewer in all (tries that never crossed the link included)", it.ResumedAt, big, it.Sent)
	}
	if names := partials(t, root); len(names) != 0 {
		t.Fatalf("partial files left: %v", names)
	}

	// Refusals. Traversal, through the page and its API.
	var status int64
	harness.Do(t, tab, "climb out of the top",
		chromedp.Navigate(page+"?path=/../etc"),
		chromedp.WaitVisible(`#error`, chromedp.ByQuery),
		chromedp.Evaluate(`(async () => (await fetch('/api/files/`+a.DeviceID()+`/download?path=' + encodeURIComponent('/docs/../../etc/passwd'))).status)()`, &status, awaitPromise),
	)
	if status == 200 {
		t.Fatal("a download climbing out of the top answered 200")
	}
	for _, p := range []string{"/../x", "/docs/../../x", "/CON", "/a:b"} {
		f, err := alice.Files(ctx(t), a.DeviceID())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.StartUpload(ctx(t), wire.UploadStart{Path: p, Size: 1, SHA256: strings.Repeat("00", 32)}); !harness.IsCode(err, wire.CodeBadRequest) {
			t.Errorf("upload to %q: %v, want %s", p, err, wire.CodeBadRequest)
		}
	}
	// Another site aiming at the page's transfers (the cookie is
	// SameSite=Lax, so a link elsewhere carries it): refused; the page
	// itself asks before it reads anything.
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Jar: jar}
	if resp, err := hc.Get(ui.URL()); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	for _, site := range []string{"cross-site", "same-origin"} {
		req, err := http.NewRequest(http.MethodGet, ui.Base()+"/api/files/"+a.DeviceID()+"/download?path=/hello.txt", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Sec-Fetch-Site", site)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[string]int{"cross-site": http.StatusForbidden, "same-origin": http.StatusOK}[site]; resp.StatusCode != want {
			t.Errorf("a %s download: %s, want %d", site, resp.Status, want)
		}
	}
	req, err := http.NewRequest(http.MethodGet, page, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !strings.Contains(string(body), `id="confirm"`) || strings.Contains(string(body), "hello.txt") {
		t.Errorf("the files page reached from another site lists the machine (%v): %.300s", err, body)
	}

	// No grant, and a grant for another capability.
	f, err := alice.Files(ctx(t), a.DeviceID())
	if err != nil {
		t.Fatal(err)
	}
	f.Grant, f.Renew = "", nil
	if _, err := f.List(ctx(t), "/"); !harness.IsCode(err, wire.CodeUnauthorized) {
		t.Errorf("no grant: %v, want %s", err, wire.CodeUnauthorized)
	}
	g, err := alice.Grant(ctx(t), a.DeviceID(), wire.CapSysInfo)
	if err != nil {
		t.Fatal(err)
	}
	f.Grant = g.Grant
	if _, err := f.List(ctx(t), "/"); !harness.IsCode(err, wire.CodeForbidden) {
		t.Errorf("a sysinfo grant: %v, want %s", err, wire.CodeForbidden)
	}
	// A role without files gets no grant for it.
	vic := c.LoginViewer(t, c.AddUser(t, "vic", policy.RoleViewer))
	if _, err := vic.Files(ctx(t), a.DeviceID()); !harness.IsCode(err, wire.CodeForbidden) {
		t.Errorf("a viewer's files grant: %v, want %s", err, wire.CodeForbidden)
	}
	// Every write was audited on the agent with its path and size.
	wait.ForErr(t, "the uploads in the agent's trail", func() error {
		evs, err := a.Audit().All()
		if err != nil {
			return err
		}
		n := 0
		for _, ev := range evs {
			if ev.Action == "files.upload" && (ev.Fields["path"] == "/big.bin" && ev.Fields["size"] == fmt.Sprint(big) || ev.Fields["path"] == "/dropped.bin") {
				n++
			}
		}
		if n != 2 {
			return fmt.Errorf("%d of the 2 uploads audited", n)
		}
		return nil
	})
}

// partials lists the hidden partial files in dir.
func partials(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.Contains(e.Name(), ".peerdesk-part-") {
			out = append(out, e.Name())
		}
	}
	return out
}
