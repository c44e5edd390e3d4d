package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerdesk/peerdesk/cli"
	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/trust"
	"tailscale.com/control/controlclient"
	"tailscale.com/health"
	"tailscale.com/net/netmon"
	"tailscale.com/net/tsdial"
	"tailscale.com/tailcfg"
	"tailscale.com/types/key"
	"tailscale.com/types/netmap"
	"tailscale.com/types/persist"
	"tailscale.com/util/eventbus"
)

// controlLoad enrolls N made-up agents and keeps each as a control-only
// client (the control protocol, no WireGuard) long-polling the coordinator,
// like an idle fleet. Enrollments come from many loopback source addresses
// so the per-address enrollment limit does not pace the set-up.
func controlLoad(ctx context.Context, args []string) error {
	fs := cli.Flags("peerbench", "controlload")
	url := fs.String("coordinator", "", "coordinator URL")
	pin := fs.String("pin", "", "CA pin")
	socket := fs.String("socket", "", "coordinator admin socket")
	n := fs.Int("n", 200, "clients")
	par := fs.Int("parallel", 10, "clients joining at once")
	hold := fs.Duration("hold", time.Minute, "how long to hold the clients after all joined")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := dial(ctx, *url, *pin, *socket)
	if err != nil {
		return err
	}
	var (
		wg      sync.WaitGroup
		sem     = make(chan struct{}, *par)
		joined  atomic.Int32
		failed  atomic.Int32
		clients = make([]*controlclient.Direct, *n)
	)
	start := time.Now()
	for i := range *n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d, err := c.joinControlOnly(ctx, i)
			if err != nil {
				failed.Add(1)
				log.Printf("client %d: %v", i, err)
				return
			}
			clients[i] = d
			joined.Add(1)
		})
	}
	wg.Wait()
	result("clients", joined.Load(), "failed", failed.Load(), "join_all_s", fmt.Sprintf("%.1f", time.Since(start).Seconds()))
	fmt.Println("holding")
	select {
	case <-ctx.Done():
	case <-time.After(*hold):
	}
	for _, d := range clients {
		if d != nil {
			d.Close()
		}
	}
	return nil
}

type nullUpdater struct{ got chan struct{} }

func (u *nullUpdater) UpdateFullNetmap(*netmap.NetworkMap) {
	select {
	case u.got <- struct{}{}:
	default:
	}
}

func (c *coord) joinControlOnly(ctx context.Context, i int) (*controlclient.Direct, error) {
	src := &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+i/50), byte(2+i%50))}
	hc := trust.Client(c.ca)
	hc.Transport.(*http.Transport).DialContext = (&net.Dialer{LocalAddr: src, Timeout: 10 * time.Second}).DialContext
	cl := coordclient.NewWithHTTPClient(c.url, hc)
	resp, err := c.enroll(ctx, cl, fmt.Sprintf("load-%03d", i))
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	bus := eventbus.New()
	dialer := tsdial.NewDialer(netmon.NewStatic())
	dialer.SetBus(bus)
	d, err := controlclient.NewDirect(controlclient.Options{
		Persist:              persist.Persist{},
		GetMachinePrivateKey: func() (key.MachinePrivate, error) { return key.NewMachine(), nil },
		ServerURL:            c.url,
		AuthKey:              resp.AuthKey,
		Hostinfo:             &tailcfg.Hostinfo{Hostname: fmt.Sprintf("load-%03d", i), BackendLogID: randomHex(32)},
		DiscoPublicKey:       key.NewDisco().Public(),
		Logf:                 func(string, ...any) {},
		HealthTracker:        health.NewTracker(bus),
		Dialer:               dialer,
		Bus:                  bus,
		HTTPTestClient:       trust.Client(c.ca), // /key over TLS pinned to the coordinator's CA
	})
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := d.TryLogin(lctx, controlclient.LoginDefault); err != nil {
		d.Close()
		return nil, fmt.Errorf("login: %w", err)
	}
	u := &nullUpdater{got: make(chan struct{}, 1)}
	go d.PollNetMap(context.Background(), u) //nolint:errcheck // ends with Close
	select {
	case <-u.got:
		return d, nil
	case <-lctx.Done():
		d.Close()
		return nil, fmt.Errorf("no network map: %w", lctx.Err())
	}
}
