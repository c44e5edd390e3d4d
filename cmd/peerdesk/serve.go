package main

import (
	"context"
	"fmt"
	"time"

	"github.com/peerdesk/peerdesk/cli"
	"github.com/peerdesk/peerdesk/coordinator"
	"github.com/peerdesk/peerdesk/coordinator/support"
)

func serve(ctx context.Context, args []string) error {
	fs := cli.Flags("peerdesk", "serve")
	var cfg coordinator.Config
	fs.StringVar(&cfg.DataDir, "data", "/var/lib/peerdesk", "data directory (store, CA, overlay state)")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8443", "HTTPS listen address")
	fs.StringVar(&cfg.PublicHost, "public-host", "", "name or IP agents reach this coordinator by (default: the listen host)")
	fs.StringVar(&cfg.PublicIPv4, "public-ipv4", "", "IPv4 address of the DERP relay (default: public-host if it is one)")
	fs.StringVar(&cfg.PublicIPv6, "public-ipv6", "", "IPv6 address of the DERP relay")
	fs.StringVar(&cfg.STUNListen, "stun", ":3478", "STUN UDP listen address")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "the shop's own server certificate (PEM); default: a CA of our own")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "key of -tls-cert")
	fs.StringVar(&cfg.TLSCA, "tls-ca", "", "CA that issued -tls-cert")
	fs.StringVar(&cfg.SupportBinaries, "support-binaries", "", "directory of the one-time agents the support portal offers (peerdesk-agent-linux-amd64, peerdesk-agent-windows-amd64.exe, ...)")
	fs.DurationVar(&cfg.OverlayWriteBatch, "overlay-write-batch", 0, "how long the control plane collects node changes before recomputing who sees whom (default 250ms; larger for big fleets)")
	fs.StringVar(&cfg.ViewerURL, "viewer-url", "", "the technicians' local viewer page, where the dashboard's Connect buttons lead (default http://127.0.0.1:7071)")
	fs.StringVar(&cfg.OllamaURL, "ollama", "", "the shop's Ollama server for the help desk assistant, e.g. http://10.0.0.5:11434 (default: no assistant; users get the contacts)")
	fs.StringVar(&cfg.OllamaModel, "ollama-model", "qwen3:8b", "the assistant's model unless its settings name one")
	fs.DurationVar(&cfg.OllamaTimeout, "ollama-timeout", 90*time.Second, "deadline of each call to the model")
	codeTTL := fs.String("code-ttl", "30m", `how long a generated support code lives unless the technician picks a lifetime ("never": until used or cancelled; at most 168h)`)
	level := fs.String("log-level", "info", "debug, info, warn or error")
	pprofAddr := fs.String("pprof", "", "serve Go's profiler on this loopback address (e.g. 127.0.0.1:6060); off by default")
	memMiB := fs.Int64("memory-limit", cli.CoordinatorMemoryLimit>>20, "soft memory limit in MiB (0: none; GOMEMLIMIT wins)")
	gcPercent := fs.Int("gc-percent", cli.CoordinatorGCPercent, "collect garbage when the heap has grown this much (%) over what is live (0: Go's default; GOGC wins)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ttl, err := parseCodeTTL(*codeTTL)
	if err != nil {
		return err
	}
	cfg.CodeTTL = ttl
	cli.SetMemoryLimit(*memMiB << 20)
	cli.SetGCPercent(*gcPercent)
	if *pprofAddr != "" {
		if err := servePprof(*pprofAddr); err != nil {
			return err
		}
	}
	log, err := cli.Logger(*level)
	if err != nil {
		return err
	}
	cfg.Logger = log.With("version", version)
	c, err := coordinator.New(cfg)
	if err != nil {
		return err
	}
	fmt.Printf("peerdesk coordinator %s\n  url: %s\n  CA pin: %s\n  admin socket: %s\n", version, c.URL(), c.Pin(), c.SocketPath())
	return c.Run(ctx)
}

func printVersion(_ context.Context, args []string) error {
	if err := cli.Flags("peerdesk", "version").Parse(args); err != nil {
		return err
	}
	fmt.Println(version)
	return nil
}

// parseCodeTTL reads -code-ttl: a duration up to support.MaxCodeTTL, or
// "never".
func parseCodeTTL(v string) (time.Duration, error) {
	if v == "never" {
		return support.NoExpiry, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > support.MaxCodeTTL {
		return 0, fmt.Errorf("-code-ttl %q: want a duration from 1s to %s, or never", v, support.MaxCodeTTL)
	}
	return d, nil
}
