package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/cli"
	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/trust"
)

// accessLoad measures the Access view of a loaded coordinator as a
// technician's browser fetches it (the HTML over HTTPS, server time plus
// transfer on loopback), and how long a killed agent takes to show offline.
func accessLoad(ctx context.Context, args []string) error {
	fs := cli.Flags("peerbench", "access")
	url0 := fs.String("coordinator", "", "coordinator URL")
	pin := fs.String("pin", "", "CA pin")
	socket := fs.String("socket", "", "coordinator admin socket")
	user := fs.String("user", "", "technician")
	n := fs.Int("n", 50, "requests of each kind")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := dial(ctx, *url0, *pin, *socket)
	if err != nil {
		return err
	}
	password := os.Getenv("PEERDESK_PASSWORD")
	hc := trust.Client(c.ca)
	jar, _ := cookiejar.New(nil) //nolint:errcheck // never fails
	hc.Jar = jar
	if err := webLogin(ctx, hc, c.url, *user, password); err != nil {
		return err
	}
	machines := 0
	for _, q := range []struct{ name, path string }{
		{"page", "/machines"},
		{"search", "/machines?q=" + url.QueryEscape("sn-0012")},
		{"group", "/machines?dim=company&value=company-07&smart=online"},
	} {
		var ds []time.Duration
		for range *n {
			t0 := time.Now()
			body, err := get(ctx, hc, c.url+q.path)
			if err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			ds = append(ds, time.Since(t0))
			if m := shownRE.FindStringSubmatch(body); m != nil && q.name == "page" {
				fmt.Sscan(m[1], &machines) //nolint:errcheck // reported as 0 if absent
			}
		}
		result(q.name+"_p50_ms", ms(percentile(ds, .5)), q.name+"_p95_ms", ms(percentile(ds, .95)), "machines", machines)
	}

	// A killed agent: its presence stream's connection closes; poll the
	// device list (as the dashboard's data) until it shows offline.
	api := coordclient.New(c.url, c.ca)
	login, err := api.Login(ctx, *user, password)
	if err != nil {
		return err
	}
	tech := api.WithSession(login.Session)
	resp, err := c.enroll(ctx, api, "probe")
	if err != nil {
		return err
	}
	dev := api.WithDevice(resp.DeviceID, resp.DeviceSecret)
	pctx, kill := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { dev.Presence(pctx, nil); close(done) }() //nolint:errcheck // ends with kill
	if err := waitOnline(ctx, tech, resp.DeviceID, true); err != nil {
		kill()
		return err
	}
	t0 := time.Now()
	kill()
	if err := waitOnline(ctx, tech, resp.DeviceID, false); err != nil {
		return err
	}
	<-done
	result("killed_to_offline_ms", ms(time.Since(t0)))
	return nil
}

var (
	csrfRE  = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)
	shownRE = regexp.MustCompile(`(\d+) machines? of`)
)

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

func webLogin(ctx context.Context, hc *http.Client, base, user, password string) error {
	page, err := get(ctx, hc, base+"/login")
	if err != nil {
		return err
	}
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		return fmt.Errorf("no login form")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/login",
		strings.NewReader(url.Values{"csrf": {m[1]}, "user": {user}, "password": {password}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer r.Body.Close()
	io.Copy(io.Discard, r.Body) //nolint:errcheck // drained
	if r.Request.URL.Path != "/machines" {
		return fmt.Errorf("login led to %s", r.Request.URL.Path)
	}
	return nil
}

func get(ctx context.Context, hc *http.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	r, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", u, r.Status)
	}
	return string(b), err
}

func waitOnline(ctx context.Context, tech *coordclient.Client, device string, want bool) error {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		devs, err := tech.Devices(ctx)
		if err != nil {
			return err
		}
		for _, d := range devs {
			if d.ID == device && d.Online == want {
				return nil
			}
		}
	}
	return fmt.Errorf("device %s never became online=%v", device, want)
}
