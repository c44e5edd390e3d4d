package desk_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// TestM5DisabledUserRefusedAtNextRequest: an admin disables a technician
// who is logged in on the API and the dashboard; the next request of
// each is refused, and the technician's overlay node is deleted.
func TestM5DisabledUserRefusedAtNextRequest(t *testing.T) {
	leak.Check(t)
	w := newWorld(t)
	token, _ := w.caller(t, policy.RoleTechnician)
	_, adminSess := w.caller(t, policy.RoleAdmin)
	list := cell{"GET", wire.PathDevices, "", ""}
	if status, _ := w.send(t, "api", w.api, token, list); status != http.StatusOK {
		t.Fatalf("before: api %d", status)
	}
	if status, _ := w.send(t, "web", w.web, token, cell{method: "GET", path: "/machines"}); status != http.StatusOK {
		t.Fatalf("before: web %d", status)
	}
	admin := desk.CallerOf(adminSess, "192.0.2.9", "web")
	if err := w.d.DisableUser(admin, "tech-technician"); err != nil {
		t.Fatal(err)
	}
	if status, _ := w.send(t, "api", w.api, token, list); status != http.StatusUnauthorized {
		t.Errorf("after: api %d, want 401", status)
	}
	req := cell{method: "GET", path: "/machines"}
	if status, _ := w.send(t, "web", w.web, token, req); status != http.StatusSeeOther {
		t.Errorf("after: web %d, want a redirect to the login form", status)
	}
	if _, err := w.overlay.NodeByKey("nodekey:tech-technician"); !errors.Is(err, overlay.ErrNotFound) {
		t.Errorf("the disabled technician's overlay node is still there: %v", err)
	}
	if _, err := w.overlay.NodeByKey("nodekey:tech-admin"); err != nil {
		t.Errorf("the admin's node went too: %v", err)
	}
	recs := w.audit(t, "account.disable")
	if len(recs) != 1 || recs[0] != "tech-admin account.disable tech-technician ok" {
		t.Errorf("audited %q", recs)
	}
}

// TestM5AccountAdminIsAdminOnly: every account and device action refuses
// a role that may not manage users, audited, and leaves the account be.
func TestM5AccountAdminIsAdminOnly(t *testing.T) {
	leak.Check(t)
	w := newWorld(t)
	_, sess := w.caller(t, policy.RoleSenior)
	c := desk.CallerOf(sess, "192.0.2.9", "api")
	target := w.creator[true]
	for name, err := range map[string]error{
		"disable":      w.d.DisableUser(c, target),
		"enable":       w.d.EnableUser(c, target),
		"delete":       w.d.DeleteUser(c, target),
		"passwd":       w.d.SetUserPassword(c, target, "another long password"),
		"role":         w.d.SetUserRole(c, target, policy.RoleAdmin, nil),
		"end-sessions": w.d.EndUserSessions(c, target),
		"unlock":       w.d.UnlockUser(c, target),
		"reset-2fa":    w.d.ResetUser2FA(c, target),
		"remove":       w.d.RemoveDevice(c, w.dev[true]),
		"reset":        w.d.ResetDevice(c, w.dev[true]),
		"move":         w.d.MoveDevice(c, w.dev[true], "globex", ""),
	} {
		if !errors.Is(err, desk.ErrForbidden) {
			t.Errorf("%s as a senior: %v, want forbidden", name, err)
		}
	}
	if _, err := w.d.Users(c); !errors.Is(err, desk.ErrForbidden) {
		t.Errorf("users list as a senior: %v", err)
	}
	if u, err := w.accounts.Get(target); err != nil || u.Disabled || u.Role != policy.RoleTechnician {
		t.Errorf("the account changed: %v %v", u, err)
	}
	if n := len(w.audit(t, "account.disable")); n != 1 {
		t.Errorf("%d refusals of disable audited, want 1", n)
	}
}

// TestM5RemoveDeviceDeletesNode: removing a device deletes its overlay
// node, lists it as removed, refuses it re-enrolling until reset, and
// after a reset the machine enrolls again.
func TestM5RemoveDeviceDeletesNode(t *testing.T) {
	leak.Check(t)
	w := newWorld(t)
	local := desk.Local()
	id := w.dev[true]
	if err := w.d.RemoveDevice(local, id); err != nil {
		t.Fatal(err)
	}
	if _, err := w.overlay.NodeByKey("nodekey:" + id); !errors.Is(err, overlay.ErrNotFound) {
		t.Errorf("the removed device's node is still there: %v", err)
	}
	devs, err := w.d.AdminDevices(local)
	if err != nil {
		t.Fatal(err)
	}
	removed := 0
	for _, d := range devs {
		if d.ID == id && !d.Removed.IsZero() {
			removed++
		}
	}
	if removed != 1 || len(devs) != 2 {
		t.Errorf("admin list %+v: want both devices, %s removed", devs, id)
	}
	machine := strings.Repeat("a", 64)
	enrollAgain := func() error {
		tok, err := w.d.CreateToken(local, enroll.TokenOptions{Company: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.d.Enroll("192.0.2.1", wire.EnrollRequest{Token: tok.Token, MachineID: machine, Hostname: "pc-acme", OS: "linux"})
		return err
	}
	if err := enrollAgain(); err == nil {
		t.Error("a removed machine enrolled again before a reset")
	}
	if err := w.d.ResetDevice(local, id); err != nil {
		t.Fatal(err)
	}
	if err := enrollAgain(); err != nil {
		t.Errorf("enrolling after the reset: %v", err)
	}
	if err := w.d.MoveDevice(local, w.dev[false], "acme", "hq"); err != nil {
		t.Fatal(err)
	}
	if got := w.audit(t, "device.remove"); len(got) != 1 || got[0] != "local device.remove "+id+" ok" {
		t.Errorf("audited %q", got)
	}
}

// audit lists the audit records of action as "actor action target outcome".
func (w *world) audit(t *testing.T, action string) []string {
	t.Helper()
	recs, err := w.d.AuditRecords(desk.Local(), auditQuery(action))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.Actor+" "+r.Action+" "+r.Target+" "+r.Outcome)
	}
	return out
}

func auditQuery(action string) audit.Query { return audit.Query{Action: action} }
