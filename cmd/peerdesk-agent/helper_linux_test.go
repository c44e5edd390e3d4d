package main

import (
	"context"
	"errors"
	"image"
	"image/color"
	"io"
	"log"
	"path/filepath"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/peerdesk/peerdesk/agent/sessionhelper"
	"github.com/peerdesk/peerdesk/cli"
	"github.com/peerdesk/peerdesk/cli/clitest"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/harness/xclient"
	"github.com/peerdesk/peerdesk/wire"
)

// TestHelperServesItsDesktop runs the hidden `helper` command as its own
// process, as the Windows service does in the console session, on a real
// X display: through the service's side of the pipe (a unix socket here),
// a frame shows what a window painted and typed keys reach that window.
// Closing the service's end ends the helper, with status 0.
func TestHelperServesItsDesktop(t *testing.T) {
	xgb.Logger = log.New(io.Discard, "", 0) // it has no authority file; the test server needs none
	display := xclient.StartXvfb(t, 640, 480)
	win := xclient.OpenWindow(t, display, 100, 80, 200, 120)
	paint := color.RGBA{R: 0xd0, G: 0x30, B: 0x90, A: 0xff}
	if err := win.Fill(paint); err != nil {
		t.Fatal(err)
	}

	sock := filepath.Join(t.TempDir(), "helper.sock")
	ln, err := sessionhelper.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := clitest.Command(t, "helper", "-pipe", sock, "-display", display)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	}()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if pid, err := sessionhelper.ClientPID(conn); err != nil || int(pid) != cmd.Process.Pid {
		t.Fatalf("the connection comes from pid %d (%v), want the helper's %d", pid, err, cmd.Process.Pid)
	}
	desk := sessionhelper.NewRemote(nil)
	desk.Attach(conn)

	src, err := desk.OpenSource()
	if err != nil {
		t.Fatal(err)
	}
	mons, err := src.Monitors()
	if err != nil || len(mons) == 0 || mons[0].Width != 640 || mons[0].Height != 480 {
		t.Fatalf("monitors %+v (%v), want one of 640x480", mons, err)
	}
	var got color.RGBA
	wait.For(t, "a frame showing the painted window", func() bool {
		f, err := src.Grab()
		if err != nil || f.Width != 640 {
			return false
		}
		got = bgra(f.Pix, f.Stride, image.Pt(200, 140))
		return got == paint
	})

	in, err := desk.Input()
	if err != nil {
		t.Fatal(err)
	}
	// The pointer over the window gives it the keys (no window manager).
	if err := in.Apply(wire.InputEvent{Type: "move", X: 150, Y: 120}, image.Point{}); err != nil {
		t.Fatal(err)
	}
	for _, down := range []bool{true, false} {
		if err := in.Apply(wire.InputEvent{Type: "key", Code: "KeyQ", Down: down}, image.Point{}); err != nil {
			t.Fatal(err)
		}
	}
	timeout := time.After(wait.Timeout)
	for typed := false; !typed; {
		select {
		case ev := <-win.Events():
			typed = ev.Kind == "key" && ev.Down && ev.Keysym == "q"
		case <-timeout:
			t.Fatal("the key typed through the helper never reached the window")
		}
	}
	if err := in.ReleaseAll(); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}

	desk.Detach()
	if err := wait.Recv(t, "the helper to exit once the service hung up", exited); err != nil {
		t.Fatalf("the helper exited with %v after the service hung up, want status 0", err)
	}
	if _, err := desk.OpenSource(); !errors.Is(err, sessionhelper.ErrNoHelper) {
		t.Errorf("OpenSource with no helper: %v, want ErrNoHelper", err)
	}
	for _, c := range commands() {
		if c.Name == helperCommand.Name {
			t.Errorf("helper is listed: %+v", []cli.Command{c})
		}
	}
}

// TestHelperWithoutService: a helper that cannot reach the service says
// so and fails, instead of hanging (the service launches it only after it
// listens, so this is a broken install or a stray start).
func TestHelperWithoutService(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := runHelper(ctx, []string{"-pipe", filepath.Join(t.TempDir(), "nobody.sock")})
	if err == nil {
		t.Fatal("the helper succeeded with no service listening")
	}
}

func bgra(pix []byte, stride int, p image.Point) color.RGBA {
	i := p.Y*stride + p.X*4
	return color.RGBA{B: pix[i], G: pix[i+1], R: pix[i+2], A: 0xff}
}
