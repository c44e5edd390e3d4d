// Command demo is `just demo`: a support session end to end on this
// machine, with embedded defaults, driven the way people would drive it.
//
// A coordinator starts on a fresh data directory; the first admin comes from
// the local command and a senior technician is added; the technician's
// viewer logs in and serves its session page. The end user's desktop is an
// X display of its own (Xvfb) with their browser on it: they type the code
// the technician generated into the portal, download the one-time agent and
// run it; it opens their page, where they allow the session. The
// technician's page shows the live screen (the end user's browser on that
// desktop); then a file is pushed to the machine and pulled back, and a
// shell command runs on it — peer to peer over the overlay. Screenshots of
// the technician's pages are saved as PNG (their paths printed); with a
// display of your own ($DISPLAY) and -keep, the session page is left open
// in a browser window for you to look at until Ctrl-C.
//
// Everything listens on 127.0.0.1; the browsers run with the flags that keep
// Chromium off the network.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// Config is one run of the demo.
type Config struct {
	Bin          string // the built binaries (peerdesk, peerdesk-agent, peerdesk-viewer)
	Data         string // a fresh data directory (emptied first)
	Listen       string // the coordinator's address
	ViewerListen string // the technician's session page
	Chromium     string
	Keep         bool          // leave the session page open on $DISPLAY until ctx ends
	Out          io.Writer     // the story, step by step
	Timeout      time.Duration // for each wait
}

const (
	adminPassword = "demo-admin-password-1"
	techPassword  = "demo-tech-password-1"
	width, height = 1280, 800
)

func main() {
	root, _ := os.Getwd() //nolint:errcheck // "" falls back to relative paths
	cfg := Config{Out: os.Stdout, Timeout: 90 * time.Second}
	flag.StringVar(&cfg.Bin, "bin", filepath.Join(root, "bin"), "directory of the built binaries")
	flag.StringVar(&cfg.Data, "data", filepath.Join(root, ".demo"), "data directory (emptied first)")
	flag.StringVar(&cfg.Listen, "listen", "127.0.0.1:18443", "the coordinator's address")
	flag.StringVar(&cfg.ViewerListen, "viewer-listen", "127.0.0.1:7071", "the technician's session page")
	flag.StringVar(&cfg.Chromium, "chromium", "/usr/bin/chromium", "Chromium")
	flag.BoolVar(&cfg.Keep, "keep", os.Getenv("DISPLAY") != "", "leave the session page open on $DISPLAY until Ctrl-C")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		stop()
		os.Exit(1) //nolint:gocritic // main: the deferred stop has run
	}
}

// demo is one run's state.
type demo struct {
	cfg   Config
	procs []*exec.Cmd
	mu    sync.Mutex
	shots []string
}

// Run runs the demo; everything it started is stopped when it returns.
func Run(ctx context.Context, cfg Config) (err error) {
	d := &demo{cfg: cfg}
	defer d.stopAll()
	if err := os.RemoveAll(cfg.Data); err != nil {
		return err
	}
	for _, dir := range []string{"coordinator", "support", "viewer", "viewer-cli", "downloads", "shots", "remote", "opener", "tmp"} {
		if err := os.MkdirAll(filepath.Join(cfg.Data, dir), 0o700); err != nil {
			return err
		}
	}
	data := func(p ...string) string { return filepath.Join(append([]string{cfg.Data}, p...)...) }

	d.step("coordinator on https://%s (embedded Headscale, DERP, Badger)", cfg.Listen)
	if err := os.Symlink(filepath.Join(cfg.Bin, "peerdesk-agent"), data("support", "peerdesk-agent-linux-amd64")); err != nil {
		return err
	}
	viewerURL := "http://" + cfg.ViewerListen
	serve, err := d.start(nil, "peerdesk", "serve", "-data", data("coordinator"), "-listen", cfg.Listen, "-stun", "127.0.0.1:0",
		"-support-binaries", data("support"), "-viewer-url", viewerURL, "-log-level", "warn")
	if err != nil {
		return err
	}
	url, err := serve.field(ctx, "url:", cfg.Timeout)
	if err != nil {
		return err
	}
	pin, err := serve.field(ctx, "CA pin:", cfg.Timeout)
	if err != nil {
		return err
	}
	if err := d.until(ctx, "the admin socket", func() error {
		_, err := d.run(nil, "", "peerdesk", "admin", "status", "-data", data("coordinator"))
		return err
	}); err != nil {
		return err
	}

	d.step("the first admin, from the local command (there is no setup page); a senior technician")
	if _, err := d.run([]string{"PEERDESK_PASSWORD=" + adminPassword}, "", "peerdesk", "admin", "add-user", "-data", data("coordinator"), "-name", "admin", "-role", "admin"); err != nil {
		return err
	}
	if _, err := d.run([]string{"PEERDESK_PASSWORD=" + techPassword}, "", "peerdesk", "admin", "user", "add", "-data", data("coordinator"), "-name", "tess", "-role", "senior"); err != nil {
		return err
	}

	d.step("the technician's viewer: log in (the CA pin is how it trusts the coordinator), serve the session page")
	if _, err := d.run(nil, techPassword+"\n", "peerdesk-viewer", "login", "-state", data("viewer"), "-coordinator", url, "-pin", pin, "-user", "tess"); err != nil {
		return err
	}
	ui, err := d.start(nil, "peerdesk-viewer", "ui", "-state", data("viewer"), "-listen", cfg.ViewerListen)
	if err != nil {
		return err
	}
	if _, err := ui.field(ctx, "session page:", cfg.Timeout); err != nil {
		return err
	}
	// The command line is a second viewer (its own overlay node, so its
	// own state directory) beside the page's.
	if _, err := d.run(nil, techPassword+"\n", "peerdesk-viewer", "login", "-state", data("viewer-cli"), "-coordinator", url, "-pin", pin, "-user", "tess"); err != nil {
		return err
	}

	d.step("the end user's desktop: an X display of its own with their browser on it")
	display, err := d.xvfb(ctx)
	if err != nil {
		return err
	}
	spki, err := spkiPin(strings.TrimPrefix(url, "https://"))
	if err != nil {
		return err
	}
	userCtx, closeUser, err := d.browser(ctx, display, spki, data("downloads"))
	if err != nil {
		return err
	}
	defer closeUser()
	techCtx, closeTech, err := d.browser(ctx, "", spki, "")
	if err != nil {
		return err
	}
	defer closeTech()

	d.step("the technician logs in to the dashboard and generates a support code")
	var code string
	if err := d.do(techCtx, "generate a code",
		chromedp.EmulateViewport(width, height),
		chromedp.Navigate(url+"/login"),
		chromedp.WaitVisible(`input[name="user"]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name="user"]`, "tess", chromedp.ByQuery),
		chromedp.SendKeys(`input[name="password"]`, techPassword, chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Log in"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//h1[normalize-space()="Support"]`, chromedp.BySearch),
		chromedp.Click(`input[name="assign"][value="me"]`, chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Generate code"]`, chromedp.BySearch),
		chromedp.Text(`#new-code`, &code, chromedp.ByQuery),
	); err != nil {
		return err
	}
	d.say("   code %s", code)
	d.shot(techCtx, "01-support-code")

	d.step("the end user types the code on the portal and downloads the one-time agent")
	file := data("downloads", "peerdesk-support-"+code)
	if err := d.do(userCtx, "download the one-time agent",
		chromedp.Navigate(url+"/support"),
		chromedp.WaitVisible(`input[name="code"]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name="code"]`, code, chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Continue"]`, chromedp.BySearch),
		chromedp.Click(`a[href="/support/download/`+code+`/linux-amd64"]`, chromedp.ByQuery),
	); err != nil {
		return err
	}
	if err := d.until(ctx, "the download", func() error {
		fi, err := os.Stat(file)
		if err == nil && fi.Size() == 0 {
			err = errors.New("empty")
		}
		return err
	}); err != nil {
		return err
	}

	d.step("the end user runs it; it opens their page in their browser")
	opener, err := writeOpener(data("opener"))
	if err != nil {
		return err
	}
	if err := d.until(ctx, "making the download executable", func() error { return os.Chmod(file, 0o755) }); err != nil {
		return err
	}
	env := []string{"DISPLAY=" + display, "TMPDIR=" + data("tmp"), "BROWSER=" + filepath.Join(data("opener"), "xdg-open"),
		"PATH=" + data("opener") + string(os.PathListSeparator) + os.Getenv("PATH")}
	if _, err := d.startPath(env, file); err != nil {
		return err
	}
	var page string
	if err := d.until(ctx, "the end user's page", func() error {
		b, err := os.ReadFile(opener)
		if page = strings.TrimSpace(string(b)); err == nil && page == "" {
			err = errors.New("not yet")
		}
		return err
	}); err != nil {
		return err
	}
	if err := d.do(userCtx, "open the end user's page", chromedp.Navigate(strings.Split(page, "\n")[0]), chromedp.WaitVisible(`#waiting`, chromedp.ByQuery)); err != nil {
		return err
	}

	d.step("the technician clicks Connect on the Support tab; the user allows the session")
	row := `#mine tr[id^="session-"] a.button`
	if err := d.do(techCtx, "connect",
		chromedp.WaitVisible(row, chromedp.ByQuery), chromedp.Click(row, chromedp.ByQuery),
		chromedp.WaitVisible(`#connect`, chromedp.ByQuery), chromedp.Click(`#connect`, chromedp.ByQuery)); err != nil {
		return err
	}
	if err := d.allow(userCtx); err != nil {
		return err
	}
	var device string
	if err := d.do(techCtx, "the live screen",
		chromedp.Poll(`document.getElementById('screen').videoWidth > 0`, nil, chromedp.WithPollingTimeout(cfg.Timeout)),
		chromedp.Evaluate(`JSON.parse(document.getElementById('cfg').dataset.config).device`, &device)); err != nil {
		return err
	}
	sessionPage := ""
	if err := d.do(techCtx, "where", chromedp.Location(&sessionPage)); err != nil {
		return err
	}
	d.say("   the technician sees the end user's screen (device %s)", device)
	d.shot(techCtx, "02-live-screen")

	d.step("a file pushed to the machine and pulled back, peer to peer (the user allows file access)")
	local, remote, back := data("hello.txt"), data("remote", "hello.txt"), data("hello-back.txt")
	if err := os.WriteFile(local, []byte("hello from the technician, "+time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
		return err
	}
	if err := d.withConsent(ctx, userCtx, func() error {
		_, err := d.run(nil, "", "peerdesk-viewer", "files", "put", "-state", data("viewer-cli"), device, local, remote)
		return err
	}); err != nil {
		return err
	}
	if _, err := d.run(nil, "", "peerdesk-viewer", "files", "get", "-state", data("viewer-cli"), device, remote, back); err != nil {
		return err
	}
	sent, _ := os.ReadFile(local) //nolint:errcheck // compared below
	got, err := os.ReadFile(back)
	if err != nil || !bytes.Equal(sent, got) {
		return fmt.Errorf("the file pulled back differs from the one pushed (%v)", err)
	}
	d.say("   pushed %s → %s and pulled it back: identical (%d bytes)", local, remote, len(got))

	d.step("a shell command on the machine (the user allows the shell)")
	var out string
	if err := d.withConsent(ctx, userCtx, func() error {
		var err error
		out, err = d.run(nil, "", "peerdesk-viewer", "shell", "-state", data("viewer-cli"), device, "--", "sh", "-c", "echo \"$(id -un)@$(hostname): $(uname -sr)\"")
		return err
	}); err != nil {
		return err
	}
	d.say("   %s", strings.TrimSpace(out))
	// The end user's desktop as the technician sees it: their page says
	// what the technician may do now.
	d.shot(techCtx, "04-live-screen-allowed")

	d.step("the technician's files page (leaving the session page ends the session, as closing it would)")
	if err := d.withConsent(ctx, userCtx, func() error {
		return d.do(techCtx, "the files page", chromedp.Navigate(viewerURL+"/device/"+device+"/files?path="+filepath.Dir(remote)),
			chromedp.WaitVisible(`//*[contains(text(), "hello.txt")]`, chromedp.BySearch))
	}); err != nil {
		return err
	}
	d.shot(techCtx, "03-files")

	d.step("done")
	for _, s := range d.shots {
		d.say("   screenshot: %s", s)
	}
	if cfg.Keep && os.Getenv("DISPLAY") != "" {
		d.say("   the session page is open in a browser window on your display; Ctrl-C ends the demo")
		show, closeShow, err := d.browser(ctx, os.Getenv("DISPLAY"), spki, "")
		if err != nil {
			return err
		}
		defer closeShow()
		if err := d.do(show, "show", chromedp.Navigate(url+"/login")); err != nil {
			return err
		}
		<-ctx.Done()
	}
	d.say("state kept in %s (the coordinator's audit trail: bin/peerdesk admin audit -data %s)", cfg.Data, data("coordinator"))
	return nil
}

func (d *demo) step(format string, a ...any) {
	fmt.Fprintf(d.cfg.Out, "\n\033[1m== "+format+"\033[0m\n", a...)
}

func (d *demo) say(format string, a ...any) { fmt.Fprintf(d.cfg.Out, format+"\n", a...) }

// until retries f until it succeeds, ctx ends or the timeout passes.
func (d *demo) until(ctx context.Context, what string, f func() error) error {
	deadline := time.Now().Add(d.cfg.Timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// do runs browser actions with the timeout; a failure says where the tab
// is and what it shows.
func (d *demo) do(ctx context.Context, what string, actions ...chromedp.Action) error {
	tctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	if err := chromedp.Run(tctx, actions...); err != nil {
		var at, text string
		lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
		defer lcancel()
		chromedp.Run(lctx, chromedp.Location(&at), chromedp.Text("body", &text, chromedp.ByQuery)) //nolint:errcheck // only for the message
		if len(text) > 2000 {
			text = text[:2000] + "…"
		}
		return fmt.Errorf("%s: %w (the page at %s shows: %s)", what, err, at, text)
	}
	return nil
}

// allow clicks Allow on the end user's page once it asks.
func (d *demo) allow(user context.Context) error {
	return d.do(user, "allow", chromedp.WaitVisible(`#allow`, chromedp.ByQuery), chromedp.Click(`#allow`, chromedp.ByQuery))
}

// withConsent runs f (a call that makes the end user's page ask) while the
// user allows what it asks.
func (d *demo) withConsent(ctx context.Context, user context.Context, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	asked := make(chan error, 1)
	actx, cancel := context.WithCancel(user)
	defer cancel()
	go func() { asked <- d.allow(actx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case err := <-asked:
		if err != nil {
			return err
		}
		return <-done
	}
}

// shot saves a PNG of tab's page into the data directory's shots.
func (d *demo) shot(tab context.Context, name string) {
	var buf []byte
	// The end user's page reloads itself when what it shows changes; a
	// capture that meets a reload finds no page attached and is taken again.
	var err error
	for try := 0; try < 5; try++ {
		if err = d.do(tab, "screenshot", chromedp.CaptureScreenshot(&buf)); err == nil || !strings.Contains(err.Error(), "Not attached to an active page") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		d.say("   (no screenshot %s: %v)", name, err)
		return
	}
	path := filepath.Join(d.cfg.Data, "shots", name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		d.say("   (no screenshot %s: %v)", name, err)
		return
	}
	d.shots = append(d.shots, path)
}

// proc is a started binary whose stdout lines can be awaited.
type proc struct {
	mu    sync.Mutex
	lines []string
	more  chan struct{}
	done  chan struct{}
}

func (p *proc) field(ctx context.Context, prefix string, timeout time.Duration) (string, error) {
	deadline := time.After(timeout)
	for i := 0; ; {
		p.mu.Lock()
		for ; i < len(p.lines); i++ {
			if l := strings.TrimSpace(p.lines[i]); strings.HasPrefix(l, prefix) {
				p.mu.Unlock()
				return strings.TrimSpace(strings.TrimPrefix(l, prefix)), nil
			}
		}
		more := p.more
		p.mu.Unlock()
		select {
		case <-more:
		case <-p.done:
			return "", fmt.Errorf("the program exited before printing %q", prefix)
		case <-deadline:
			return "", fmt.Errorf("waiting for %q", prefix)
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func (d *demo) start(env []string, name string, args ...string) (*proc, error) {
	return d.startPath(env, filepath.Join(d.cfg.Bin, name), args...)
}

// startPath starts a program in a process group of its own, its stderr
// into the data directory's logs; stopAll ends the group.
func (d *demo) startPath(env []string, path string, args ...string) (*proc, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(filepath.Join(d.cfg.Data, filepath.Base(path)+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	d.mu.Lock()
	d.procs = append(d.procs, cmd)
	d.mu.Unlock()
	p := &proc{more: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer logf.Close()
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text()) //nolint:errcheck // the log is for a person reading after
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.more)
			p.more = make(chan struct{})
			p.mu.Unlock()
		}
		cmd.Wait() //nolint:errcheck // stopAll's kill ends it
	}()
	return p, nil
}

// run runs a binary to completion with stdin and returns its stdout.
func (d *demo) run(env []string, stdin, name string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(d.cfg.Bin, name), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, args[0], err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

func (d *demo) stopAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := len(d.procs) - 1; i >= 0; i-- {
		if p := d.procs[i].Process; p != nil {
			syscall.Kill(-p.Pid, syscall.SIGTERM) //nolint:errcheck // already gone is fine
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, c := range d.procs {
		for c.Process != nil && syscall.Kill(c.Process.Pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if c.Process != nil {
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL) //nolint:errcheck // already gone is fine
		}
	}
}

// xvfb starts an X server on the first free display from :70.
func (d *demo) xvfb(ctx context.Context) (string, error) {
	for n := 70; n < 100; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); err == nil {
			continue
		}
		display := fmt.Sprintf(":%d", n)
		if _, err := d.startPath(nil, "Xvfb", display, "-screen", "0", fmt.Sprintf("%dx%dx24", width, height), "-nolisten", "tcp"); err != nil {
			return "", err
		}
		return display, d.until(ctx, "the X display", func() error {
			_, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n))
			return err
		})
	}
	return "", errors.New("no free X display between :70 and :99")
}

// browser starts Chromium: headless when display is "", else a window
// filling display. It trusts only the coordinator's key (spki) beyond the
// usual roots, and saves downloads in downloads when given.
func (d *demo) browser(ctx context.Context, display, spki, downloads string) (context.Context, func(), error) {
	profile, err := os.MkdirTemp(d.cfg.Data, "chromium-")
	if err != nil {
		return nil, nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(d.cfg.Chromium),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", spki),
		chromedp.UserDataDir(profile),
	}
	if display == "" {
		opts = append(opts, chromedp.Flag("headless", true), chromedp.Flag("disable-gpu", true))
	} else {
		opts = append(opts, chromedp.Env("DISPLAY="+display), chromedp.WindowSize(width, height),
			chromedp.Flag("window-position", "0,0"), chromedp.Flag("disable-gpu", true))
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(alloc)
	stop := func() { cancelTab(); cancelAlloc(); os.RemoveAll(profile) } //nolint:errcheck // a temporary profile
	if err := chromedp.Run(tab); err != nil {
		stop()
		return nil, nil, fmt.Errorf("starting %s: %w", d.cfg.Chromium, err)
	}
	if downloads != "" {
		if err := chromedp.Run(tab, browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(downloads)); err != nil {
			stop()
			return nil, nil, err
		}
	}
	return tab, stop, nil
}

// spkiPin is the base64 SHA-256 of the public key the TLS server at addr
// presents, which Chromium is told to trust.
func spkiPin(addr string) (string, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only to read the key the CA pin already vouched for
	if err != nil {
		return "", err
	}
	defer conn.Close()
	sum := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// writeOpener writes the end user's browser opener into dir (as xdg-open,
// which also runs $BROWSER): it records the page's one-time URL, which the
// demo opens in the end user's browser as their desktop would.
func writeOpener(dir string) (string, error) {
	file := filepath.Join(dir, "urls")
	script := "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '" + file + "'\n"
	return file, os.WriteFile(filepath.Join(dir, "xdg-open"), []byte(script), 0o755)
}
