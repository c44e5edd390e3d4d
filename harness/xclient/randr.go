package xclient

import (
	"image"
	"testing"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/randr"
	"github.com/jezek/xgb/xproto"
)

// RandR is a second X client that changes the RandR monitor layout, as a
// display settings tool would. Its monitors live as long as its
// connection: until the test ends.
type RandR struct {
	t    testing.TB
	conn *xgb.Conn
	root xproto.Window
}

// NewRandR connects to display and checks for RandR 1.5 (monitors).
func NewRandR(t testing.TB, display string) *RandR {
	t.Helper()
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := randr.Init(c); err != nil {
		t.Fatal(err)
	}
	if _, err := randr.QueryVersion(c, 1, 5).Reply(); err != nil {
		t.Fatal(err)
	}
	return &RandR{t, c, xproto.Setup(c).DefaultScreen(c).Root}
}

// SetMonitor adds a monitor without outputs covering r.
func (rc *RandR) SetMonitor(name string, r image.Rectangle) {
	rc.t.Helper()
	a, err := xproto.InternAtom(rc.conn, false, uint16(len(name)), name).Reply()
	if err != nil {
		rc.t.Fatal(err)
	}
	m := randr.MonitorInfo{Name: a.Atom, X: int16(r.Min.X), Y: int16(r.Min.Y), Width: uint16(r.Dx()), Height: uint16(r.Dy()),
		WidthInMillimeters: uint32(r.Dx() / 4), HeightInMillimeters: uint32(r.Dy() / 4)}
	if err := randr.SetMonitorChecked(rc.conn, rc.root, m).Check(); err != nil {
		rc.t.Fatalf("RRSetMonitor %s: %v", name, err)
	}
}

// DeleteMonitor removes a monitor (Xvfb refuses to replace one in place).
func (rc *RandR) DeleteMonitor(name string) {
	rc.t.Helper()
	a, err := xproto.InternAtom(rc.conn, true, uint16(len(name)), name).Reply()
	if err != nil {
		rc.t.Fatal(err)
	}
	if err := randr.DeleteMonitorChecked(rc.conn, rc.root, a.Atom).Check(); err != nil {
		rc.t.Fatalf("RRDeleteMonitor %s: %v", name, err)
	}
}

// SetScreenSize asks the X server to resize the screen (RRSetScreenSize);
// Xvfb refuses, other servers may not.
func (rc *RandR) SetScreenSize(w, h int) error {
	return randr.SetScreenSizeChecked(rc.conn, rc.root, uint16(w), uint16(h), uint32(w/4), uint32(h/4)).Check()
}
