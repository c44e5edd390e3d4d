package services

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/peerdesk/peerdesk/wire"
)

// NewManager is systemd over D-Bus at busAddress ("" the system bus).
func NewManager(busAddress string) Manager { return &Systemd{Address: busAddress} }

// SystemBus is the system bus's default address.
const SystemBus = "unix:path=/run/dbus/system_bus_socket"

// D-Bus names of systemd's manager.
const (
	systemdName = "org.freedesktop.systemd1"
	systemdPath = dbus.ObjectPath("/org/freedesktop/systemd1")
	managerIf   = "org.freedesktop.systemd1.Manager"
)

// Systemd is a Manager speaking to systemd's manager object over D-Bus.
// Each call opens its own connection and closes it: nothing is held while
// no technician looks.
type Systemd struct {
	Address string // "" is SystemBus (or $DBUS_SYSTEM_BUS_ADDRESS)
}

// UnitStatus is one entry of ListUnits, as systemd sends it (ssssssouso).
type UnitStatus struct {
	Name, Description, LoadState, ActiveState, SubState, Followed string
	Path                                                          dbus.ObjectPath
	JobID                                                         uint32
	JobType                                                       string
	JobPath                                                       dbus.ObjectPath
}

// UnitFile is one entry of ListUnitFiles (ss).
type UnitFile struct {
	Path, State string
}

func (s *Systemd) conn(ctx context.Context) (*dbus.Conn, dbus.BusObject, error) {
	addr := s.Address
	if addr == "" {
		addr = systemBusAddress()
	}
	c, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to D-Bus: %w", err)
	}
	return c, c.Object(systemdName, systemdPath), nil
}

func systemBusAddress() string {
	if a := getenv("DBUS_SYSTEM_BUS_ADDRESS"); a != "" {
		return a
	}
	return SystemBus
}

// List is every loaded service unit, with its unit file's state, sorted by
// name.
func (s *Systemd) List(ctx context.Context) ([]wire.Service, error) {
	c, obj, err := s.conn(ctx)
	if err != nil {
		return nil, errorf("List", err)
	}
	defer c.Close()
	var units []UnitStatus
	if err := obj.CallWithContext(ctx, managerIf+".ListUnits", 0).Store(&units); err != nil {
		return nil, errorf("List", fmt.Errorf("ListUnits: %w", err))
	}
	enabled := map[string]string{}
	var files []UnitFile
	if err := obj.CallWithContext(ctx, managerIf+".ListUnitFiles", 0).Store(&files); err == nil {
		for _, f := range files {
			enabled[path.Base(f.Path)] = f.State
		}
	}
	return servicesOf(units, enabled), nil
}

// servicesOf keeps the service units, sorted by name.
func servicesOf(units []UnitStatus, enabled map[string]string) []wire.Service {
	var out []wire.Service
	for _, u := range units {
		if !strings.HasSuffix(u.Name, ".service") || u.LoadState == "not-found" {
			continue
		}
		out = append(out, wire.Service{Name: u.Name, Description: u.Description, State: u.ActiveState, SubState: u.SubState,
			Enabled: enabled[u.Name]})
	}
	slices.SortFunc(out, func(a, b wire.Service) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Get reads one unit (ListUnitsByNames).
func (s *Systemd) Get(ctx context.Context, name string) (wire.Service, error) {
	c, obj, err := s.conn(ctx)
	if err != nil {
		return wire.Service{}, errorf("Get", err)
	}
	defer c.Close()
	return get(ctx, obj, unitName(name))
}

func get(ctx context.Context, obj dbus.BusObject, name string) (wire.Service, error) {
	var units []UnitStatus
	if err := obj.CallWithContext(ctx, managerIf+".ListUnitsByNames", 0, []string{name}).Store(&units); err != nil {
		return wire.Service{}, errorf("Get", fmt.Errorf("ListUnitsByNames: %w", err))
	}
	var state string
	if err := obj.CallWithContext(ctx, managerIf+".GetUnitFileState", 0, name).Store(&state); err != nil {
		state = ""
	}
	list := servicesOf(units, map[string]string{name: state})
	if len(list) != 1 {
		return wire.Service{}, ErrNotFound
	}
	return list[0], nil
}

// unitName adds ".service" to a bare name.
func unitName(name string) string {
	if strings.Contains(name, ".") && strings.HasSuffix(name, ".service") {
		return name
	}
	return name + ".service"
}

// methods maps actions to the manager's methods.
var methods = map[string]string{wire.ServiceStart: "StartUnit", wire.ServiceStop: "StopUnit", wire.ServiceRestart: "RestartUnit"}

// Do runs the action as a systemd job in "replace" mode and waits for the
// job's JobRemoved signal; a result other than "done" is ErrFailed.
func (s *Systemd) Do(ctx context.Context, name, action string) (string, error) {
	method, ok := methods[action]
	if !ok {
		return "", errorf("Do", fmt.Errorf("unknown action %q", action))
	}
	name = unitName(name)
	c, obj, err := s.conn(ctx)
	if err != nil {
		return "", errorf("Do", err)
	}
	defer c.Close()
	if _, err := get(ctx, obj, name); err != nil {
		return "", err
	}
	if err := c.AddMatchSignalContext(ctx, dbus.WithMatchObjectPath(systemdPath), dbus.WithMatchInterface(managerIf),
		dbus.WithMatchMember("JobRemoved")); err != nil {
		return "", errorf("Do", fmt.Errorf("AddMatch: %w", err))
	}
	sigs := make(chan *dbus.Signal, 64)
	c.Signal(sigs)
	defer c.RemoveSignal(sigs)
	if err := obj.CallWithContext(ctx, managerIf+".Subscribe", 0).Err; err != nil {
		return "", errorf("Do", fmt.Errorf("Subscribe: %w", err))
	}
	var job dbus.ObjectPath
	if err := obj.CallWithContext(ctx, managerIf+"."+method, 0, name, "replace").Store(&job); err != nil {
		var de dbus.Error
		if errors.As(err, &de) && strings.HasSuffix(de.Name, ".NoSuchUnit") {
			return "", ErrNotFound
		}
		return "", errorf("Do", fmt.Errorf("%w: %s: %w", ErrFailed, method, err))
	}
	for {
		select {
		case <-ctx.Done():
			return string(job), errorf("Do", fmt.Errorf("waiting for %s: %w", job, ctx.Err()))
		case sig, ok := <-sigs:
			if !ok {
				return string(job), errorf("Do", errors.New("the bus connection ended"))
			}
			res, mine := jobResult(sig, job)
			if !mine {
				continue
			}
			if res != "done" {
				return string(job), fmt.Errorf("%w: %s %s: job %s", ErrFailed, action, name, res)
			}
			return string(job), nil
		}
	}
}

// jobResult reads a JobRemoved signal (uoss: id, job, unit, result) and
// says whether it is job's.
func jobResult(sig *dbus.Signal, job dbus.ObjectPath) (string, bool) {
	if sig == nil || sig.Name != managerIf+".JobRemoved" || len(sig.Body) != 4 {
		return "", false
	}
	p, ok := sig.Body[1].(dbus.ObjectPath)
	if !ok || p != job {
		return "", false
	}
	res, _ := sig.Body[3].(string) //nolint:errcheck // a wrong type reads as "", a failure
	return res, true
}
