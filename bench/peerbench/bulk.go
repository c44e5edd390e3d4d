package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/peerdesk/peerdesk/cli"
	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/wire"
)

// recv joins as an enrolled agent and counts the bytes each connection on
// the peer port brings; it prints its overlay address, then one line per
// connection with the receiver's own memory.
func recv(ctx context.Context, args []string) error {
	fs := cli.Flags("peerbench", "recv")
	url := fs.String("coordinator", "", "coordinator URL")
	pin := fs.String("pin", "", "CA pin")
	socket := fs.String("socket", "", "coordinator admin socket")
	dir := fs.String("state", "", "state directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := dial(ctx, *url, *pin, *socket)
	if err != nil {
		return err
	}
	resp, err := c.enroll(ctx, coordclient.New(c.url, c.ca), "bench-recv")
	if err != nil {
		return err
	}
	n, err := node.New(node.Config{Dir: *dir, Hostname: "bench-recv", ControlURL: c.url, CA: c.ca, AuthKey: resp.AuthKey})
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.Up(ctx); err != nil {
		return err
	}
	ip, err := n.Addr()
	if err != nil {
		return err
	}
	ln, err := n.Listen("tcp", ":"+strconv.Itoa(wire.PeerPort))
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); ln.Close() }()
	result("addr", ip)
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		go func() {
			defer conn.Close()
			start := time.Now()
			got, err := io.Copy(io.Discard, conn)
			fmt.Fprintf(conn, "%d\n", got) // the sender's clock stops on this
			rss, hwm := memory()
			result("recv_bytes", got, "recv_s", fmt.Sprintf("%.2f", time.Since(start).Seconds()), "recv_rss_kib", rss, "recv_hwm_kib", hwm, "err", err)
		}()
	}
}

// send joins as a technician and sends -mb MiB to recv.
func send(ctx context.Context, args []string) error {
	fs := cli.Flags("peerbench", "send")
	url := fs.String("coordinator", "", "coordinator URL")
	pin := fs.String("pin", "", "CA pin")
	user := fs.String("user", "", "technician")
	dir := fs.String("state", "", "state directory")
	to := fs.String("to", "", "receiver's overlay address")
	mb := fs.Int("mb", 1024, "MiB to send")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := dial(ctx, *url, *pin, "")
	if err != nil {
		return err
	}
	login, err := coordclient.New(c.url, c.ca).Login(ctx, *user, os.Getenv("PEERDESK_PASSWORD"))
	if err != nil {
		return err
	}
	n, err := node.New(node.Config{Dir: *dir, Hostname: "bench-send", ControlURL: c.url, CA: c.ca, AuthKey: login.AuthKey})
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.Up(ctx); err != nil {
		return err
	}
	conn, err := n.Dial(ctx, "tcp", net.JoinHostPort(*to, strconv.Itoa(wire.PeerPort)))
	if err != nil {
		return err
	}
	buf := make([]byte, 256<<10)
	start := time.Now()
	var sent int64
	for sent < int64(*mb)<<20 {
		w, err := conn.Write(buf)
		sent += int64(w)
		if err != nil {
			return err
		}
	}
	// Stop the clock only when the receiver says it has everything.
	cw, ok := conn.(interface{ CloseWrite() error })
	if !ok {
		return errors.New("overlay connection cannot half-close")
	}
	if err := cw.CloseWrite(); err != nil {
		return err
	}
	var got int64
	if _, err := fmt.Fscan(conn, &got); err != nil {
		return fmt.Errorf("reading the receiver's count: %w", err)
	}
	secs := time.Since(start).Seconds()
	conn.Close()
	if got != sent {
		return fmt.Errorf("receiver got %d of %d bytes", got, sent)
	}
	rss, hwm := memory()
	result("sent_mib", sent>>20, "send_s", fmt.Sprintf("%.2f", secs), "mib_per_s", fmt.Sprintf("%.0f", float64(sent>>20)/secs),
		"send_rss_kib", rss, "send_hwm_kib", hwm)
	return nil
}
