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
	"github.com/peerdesk/peerdesk/wire"
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
	app := fs.Bool("app", false, "also behave like agents towards the coordinator: report an inventory, hold a presence stream, heartbeat every 30 s")
	overlayToo := fs.Bool("overlay", true, "join the overlay's control plane (false: only enroll, for -app at fleet scale)")
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
	appCtx, stopApp := context.WithCancel(ctx)
	var appWG sync.WaitGroup
	defer appWG.Wait()
	defer stopApp()
	start := time.Now()
	for i := range *n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d, dev, err := c.joinControlOnly(ctx, i, *overlayToo)
			if err != nil {
				failed.Add(1)
				log.Printf("client %d: %v", i, err)
				return
			}
			clients[i] = d
			if *app {
				if err := dev.Inventory(ctx, fakeInventory(i)); err != nil {
					log.Printf("client %d: inventory: %v", i, err)
				}
				appWG.Go(func() { actLikeAnAgent(appCtx, dev) })
			}
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

// company and site are where client i is filed (by its enrollment token):
// 20 companies, 7 sites.
func company(i int) string { return fmt.Sprintf("company-%02d", i%20) }
func site(i int) string    { return fmt.Sprintf("site-%d", i%7) }

// fakeInventory is client i's inventory: its company and site (which the
// coordinator replaces with its token's, the same), 4 device types, with a
// serial to search for.
func fakeInventory(i int) wire.Inventory {
	types := []string{"laptop", "desktop", "server", "kiosk"}
	return wire.Inventory{
		Hostname: fmt.Sprintf("load-%04d", i), OS: "linux", Platform: "debian", OSVersion: "12", AgentVersion: "1.0.0",
		CPUModel: "AMD EPYC", CPUCores: 2, RAMBytes: 8 << 30, Serial: fmt.Sprintf("SN-%06d", i),
		LoggedOnUser: fmt.Sprintf("user%04d", i),
		Interfaces:   []wire.NetIf{{Name: "eth0", MAC: fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8&0xff, i&0xff), Addrs: []string{fmt.Sprintf("10.%d.%d.%d/16", i%20, i/250, i%250+1)}}},
		Metadata:     wire.Metadata{Company: company(i), Site: site(i), DeviceType: types[i%4]},
	}
}

// actLikeAnAgent holds a presence stream (reconnecting) and heartbeats
// every 30 s while the stream is down, as an idle agent does, until ctx
// ends.
func actLikeAnAgent(ctx context.Context, dev *coordclient.Client) {
	var streaming atomic.Bool
	go func() {
		for ctx.Err() == nil {
			dev.Presence(ctx, func() { streaming.Store(true) }) //nolint:errcheck // reconnect after a pause
			streaming.Store(false)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !streaming.Load() {
				dev.Heartbeat(ctx, wire.Heartbeat{AgentVersion: "1.0.0", Sent: time.Now().UTC()}) //nolint:errcheck // load only
			}
		}
	}
}

func (c *coord) joinControlOnly(ctx context.Context, i int, overlay bool) (*controlclient.Direct, *coordclient.Client, error) {
	src := &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+i/50), byte(2+i%50))}
	hc := trust.Client(c.ca)
	hc.Transport.(*http.Transport).DialContext = (&net.Dialer{LocalAddr: src, Timeout: 10 * time.Second}).DialContext
	cl := coordclient.NewWithHTTPClient(c.url, hc)
	resp, err := c.enrollIn(ctx, cl, fmt.Sprintf("load-%03d", i), company(i), site(i))
	if err != nil {
		return nil, nil, fmt.Errorf("enroll: %w", err)
	}
	if !overlay {
		return nil, cl.WithDevice(resp.DeviceID, resp.DeviceSecret), nil
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
		return nil, nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := d.TryLogin(lctx, controlclient.LoginDefault); err != nil {
		d.Close()
		return nil, nil, fmt.Errorf("login: %w", err)
	}
	u := &nullUpdater{got: make(chan struct{}, 1)}
	go d.PollNetMap(context.Background(), u) //nolint:errcheck // ends with Close
	select {
	case <-u.got:
		return d, cl.WithDevice(resp.DeviceID, resp.DeviceSecret), nil
	case <-lctx.Done():
		d.Close()
		return nil, nil, fmt.Errorf("no network map: %w", lctx.Err())
	}
}
