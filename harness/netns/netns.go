//go:build linux

// Package netns runs a test binary inside a network namespace of its own
// that has only a loopback interface, so that overlay nodes (which advertise
// and probe every interface address of the machine) never touch the real
// network, and a test can prove that nothing tried to.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { netns.Main(m) }
//
// The test binary re-executes itself in a new network namespace (and, when
// not root, a user namespace mapping the caller to root), brings loopback up
// and runs the tests there.
//
// The namespace has its own X11 socket directory too (a private mount of
// /tmp/.X11-unix): an X server's abstract socket belongs to the network
// namespace but its /tmp/.X11-unix/X<n> path to the whole machine, so an
// Xvfb choosing a free display (-displayfd) here would take a number in use
// outside, replacing that server's socket path (X servers unlink it before
// binding and when they exit), and a server outside could do the same to
// ours: clients then reach the wrong screen or none. When they pass, the package still fails if
// goroutines are left running (leak.Main): a server shared across tests
// and never stopped shows there, if no test's own check (leak.Check) saw
// it.
package netns

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/peerdesk/peerdesk/harness/leak"
)

const envInside = "PEERDESK_NETNS_INSIDE"

// Inside reports whether this process runs in the namespace Main made.
func Inside() bool { return os.Getenv(envInside) == "1" }

// Main runs m's tests in a fresh loopback-only network namespace, checks
// that they left no goroutine running, and exits.
func Main(m *testing.M) {
	if Inside() {
		if err := LinkUp("lo"); err != nil {
			fmt.Fprintln(os.Stderr, "netns: bringing up lo:", err)
			os.Exit(1)
		}
		if err := privateX11(); err != nil {
			fmt.Fprintln(os.Stderr, "netns:", err)
			os.Exit(1)
		}
		os.Exit(leak.Main(m))
	}
	os.Exit(reexec())
}

func reexec() int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "netns:", err)
		return 1
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envInside+"=1")
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "netns: cannot start the test binary in a new network namespace:", err)
		return 1
	}
	return 0
}

func sysProcAttr() *syscall.SysProcAttr {
	// A mount namespace of its own, whose mounts do not propagate back
	// (os/exec makes / private when Unshareflags holds CLONE_NEWNS).
	a := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Unshareflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() != 0 {
		a.Cloneflags |= syscall.CLONE_NEWUSER
		a.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		a.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	return a
}

// LinkUp sets the interface name up in the current network namespace.
func LinkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// x11Dir is where X servers put their sockets and clients look for them.
const x11Dir = "/tmp/.X11-unix"

// privateX11 mounts an empty directory over x11Dir in this process's mount
// namespace, so X servers started here and the machine's other X servers
// cannot see or replace each other's sockets.
func privateX11() error {
	if err := os.Mkdir(x11Dir, 0o777|os.ModeSticky); err != nil && !os.IsExist(err) {
		return err
	}
	if err := unix.Mount("tmpfs", x11Dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777"); err != nil {
		return fmt.Errorf("a private %s: %w", x11Dir, err)
	}
	return nil
}
