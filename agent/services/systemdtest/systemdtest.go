// Package systemdtest is a fake systemd for tests, on a private D-Bus: the
// test starts its own dbus-daemon (the machine's tests run where systemd
// is not PID 1) and exports, on the well-known name
// org.freedesktop.systemd1, an object answering the Manager methods
// package services calls: ListUnits, ListUnitsByNames, ListUnitFiles,
// GetUnitFileState, Subscribe, StartUnit, StopUnit and RestartUnit, each
// job announced with a JobRemoved signal as systemd does. It keeps unit
// state in memory and records every action, so a test can see what
// reached "systemd".
package systemdtest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
)

// Unit is one fake service unit.
type Unit struct {
	Name, Description string
	Active            bool   // active (running) or inactive (dead)
	FileState         string // enabled, disabled, static…
	Fail              bool   // its jobs end "failed"
}

// Bus is a running fake systemd.
type Bus struct {
	addr string
	conn *dbus.Conn

	mu    sync.Mutex
	units map[string]*Unit
	calls []string
	jobs  uint32
}

const config = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// Start starts a private dbus-daemon and the fake systemd on it with
// units; both stop at the test's cleanup. It skips the test when
// dbus-daemon is not installed (apt-get install dbus).
func Start(t testing.TB, units ...Unit) *Bus {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon is not installed (apt-get install dbus): the fake systemd needs a bus")
	}
	dir, err := os.MkdirTemp("", "systemdtest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, config, filepath.Join(dir, "bus")), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+cfg, "--nofork", "--nopidfile", "--print-address")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck // ends it; Wait reaps it
		cmd.Wait()         //nolint:errcheck // killed
	})
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon printed no address: %v", err)
	}
	b := &Bus{addr: strings.TrimSpace(addr), units: map[string]*Unit{}}
	for _, u := range units {
		b.units[u.Name] = &u
	}
	conn, err := dbus.Connect(b.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	b.conn = conn
	if err := conn.Export(manager{b}, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager"); err != nil {
		t.Fatal(err)
	}
	if r, err := conn.RequestName("org.freedesktop.systemd1", dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning org.freedesktop.systemd1: %v %v", r, err)
	}
	return b
}

// Address is the bus's address, for services.Systemd.Address.
func (b *Bus) Address() string { return b.addr }

// Calls lists the actions received, as "RestartUnit cron.service".
func (b *Bus) Calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.calls)
}

// Active reports whether a unit is active.
func (b *Bus) Active(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.units[name]
	return u != nil && u.Active
}

// UnitStatus is ListUnits' entry (ssssssouso).
type UnitStatus struct {
	Name, Description, LoadState, ActiveState, SubState, Followed string
	Path                                                          dbus.ObjectPath
	JobID                                                         uint32
	JobType                                                       string
	JobPath                                                       dbus.ObjectPath
}

// UnitFile is ListUnitFiles' entry (ss).
type UnitFile struct{ Path, State string }

// manager is the exported object: its methods are exactly the D-Bus
// methods it answers.
type manager struct{ b *Bus }

func status(u *Unit) UnitStatus {
	s := UnitStatus{Name: u.Name, Description: u.Description, LoadState: "loaded", ActiveState: "inactive", SubState: "dead",
		Path: dbus.ObjectPath("/org/freedesktop/systemd1/unit/" + strings.NewReplacer(".", "_2e", "-", "_2d", "@", "_40").Replace(u.Name)), JobPath: "/"}
	if u.Active {
		s.ActiveState, s.SubState = "active", "running"
	}
	if u.Fail && !u.Active {
		s.ActiveState, s.SubState = "failed", "failed"
	}
	return s
}

func noSuchUnit(name string) *dbus.Error {
	return dbus.NewError("org.freedesktop.systemd1.NoSuchUnit", []any{"Unit " + name + " not found."})
}

func (m manager) ListUnits() ([]UnitStatus, *dbus.Error) {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	var out []UnitStatus
	for _, u := range m.b.units {
		out = append(out, status(u))
	}
	// systemd lists other unit types too; the list must drop them.
	out = append(out, UnitStatus{Name: "-.mount", Description: "Root Mount", LoadState: "loaded", ActiveState: "active", SubState: "mounted", Path: "/m", JobPath: "/"})
	return out, nil
}

func (m manager) ListUnitsByNames(names []string) ([]UnitStatus, *dbus.Error) {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	var out []UnitStatus
	for _, n := range names {
		if u := m.b.units[n]; u != nil {
			out = append(out, status(u))
		} else {
			out = append(out, UnitStatus{Name: n, LoadState: "not-found", ActiveState: "inactive", SubState: "dead", Path: "/x", JobPath: "/"})
		}
	}
	return out, nil
}

func (m manager) ListUnitFiles() ([]UnitFile, *dbus.Error) {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	var out []UnitFile
	for _, u := range m.b.units {
		out = append(out, UnitFile{Path: "/lib/systemd/system/" + u.Name, State: u.FileState})
	}
	return out, nil
}

func (m manager) GetUnitFileState(name string) (string, *dbus.Error) {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	if u := m.b.units[name]; u != nil {
		return u.FileState, nil
	}
	return "", noSuchUnit(name)
}

func (m manager) Subscribe() *dbus.Error { return nil }

func (m manager) StartUnit(name, mode string) (dbus.ObjectPath, *dbus.Error) {
	return m.job("StartUnit", name, mode, true)
}
func (m manager) StopUnit(name, mode string) (dbus.ObjectPath, *dbus.Error) {
	return m.job("StopUnit", name, mode, false)
}
func (m manager) RestartUnit(name, mode string) (dbus.ObjectPath, *dbus.Error) {
	return m.job("RestartUnit", name, mode, true)
}

// job changes the unit and announces the job's end before answering (the
// client must have subscribed first, as with systemd, where a short job
// can end before its caller reads the reply).
func (m manager) job(method, name, mode string, active bool) (dbus.ObjectPath, *dbus.Error) {
	m.b.mu.Lock()
	u := m.b.units[name]
	if u == nil {
		m.b.mu.Unlock()
		return "", noSuchUnit(name)
	}
	if mode != "replace" {
		m.b.mu.Unlock()
		return "", dbus.NewError("org.freedesktop.DBus.Error.InvalidArgs", []any{"mode " + mode})
	}
	m.b.jobs++
	id := m.b.jobs
	m.b.calls = append(m.b.calls, method+" "+name)
	result := "done"
	if u.Fail {
		result, u.Active = "failed", false
	} else {
		u.Active = active
	}
	m.b.mu.Unlock()
	job := dbus.ObjectPath(fmt.Sprintf("/org/freedesktop/systemd1/job/%d", id))
	if err := m.b.conn.Emit("/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager.JobRemoved", id, job, name, result); err != nil {
		return "", dbus.MakeFailedError(err)
	}
	return job, nil
}
