package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/coordinator/adminclient"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/wire"
)

type coord struct {
	url   string
	ca    *x509.Certificate
	admin *adminclient.Client // over the admin socket
}

func dial(ctx context.Context, url, pin, socket string) (*coord, error) {
	ca, err := trust.FetchCA(ctx, url, pin)
	if err != nil {
		return nil, err
	}
	return &coord{url: url, ca: ca, admin: adminclient.New(socket)}, nil
}

// enroll mints a token and enrolls a made-up machine, returning its
// overlay key.
func (c *coord) enroll(ctx context.Context, cl *coordclient.Client, host string) (wire.EnrollResponse, error) {
	return c.enrollIn(ctx, cl, host, "", "")
}

// enrollIn is enroll for a machine filed under company and site: the
// token names them, as only it can (M6; a device's report cannot).
func (c *coord) enrollIn(ctx context.Context, cl *coordclient.Client, host, company, site string) (wire.EnrollResponse, error) {
	tok, err := c.admin.CreateTokenFor(ctx, wire.TokenRequest{TTL: wire.Duration(time.Hour), Note: "bench", Company: company, Site: site})
	if err != nil {
		return wire.EnrollResponse{}, err
	}
	return cl.Enroll(ctx, wire.EnrollRequest{Token: tok.Token, MachineID: randomHex(32), Hostname: host, OS: "linux"})
}

// memory reads this process's resident and peak resident set sizes (KiB).
func memory() (rss, hwm int) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var v int
		if n, _ := fmt.Sscanf(sc.Text(), "VmRSS: %d kB", &v); n == 1 {
			rss = v
		}
		if n, _ := fmt.Sscanf(sc.Text(), "VmHWM: %d kB", &v); n == 1 {
			hwm = v
		}
	}
	return rss, hwm
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func result(kv ...any) {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, "%v=%v ", kv[i], kv[i+1])
	}
	fmt.Println(strings.TrimSpace(b.String()))
}
