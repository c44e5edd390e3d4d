package desk_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/peerdesk/peerdesk/coordinator/api"
	"github.com/peerdesk/peerdesk/coordinator/assist"
	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/consentrules"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/coordinator/tickets"
	"github.com/peerdesk/peerdesk/coordinator/web"
	"github.com/peerdesk/peerdesk/coordinator/webhooks"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// fakeOverlay hands out pre-auth keys with increasing IDs and lists the
// nodes the test adds.
type fakeOverlay struct {
	mu    sync.Mutex
	next  uint64
	nodes []overlay.Node
}

func (o *fakeOverlay) CreateAuthKey(overlay.KeyOptions) (overlay.AuthKey, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.next++
	return overlay.AuthKey{ID: o.next, Key: fmt.Sprint("hskey-", o.next)}, nil
}

func (o *fakeOverlay) DeleteAuthKey(uint64) error { return nil }

// RevokeAuthKey deletes the nodes that joined with key id.
func (o *fakeOverlay) RevokeAuthKey(id uint64) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	kept := o.nodes[:0:0]
	for _, n := range o.nodes {
		if n.AuthKeyID != id {
			kept = append(kept, n)
		}
	}
	gone := len(o.nodes) - len(kept)
	o.nodes = kept
	return gone, nil
}

func (o *fakeOverlay) Nodes() []overlay.Node {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.nodes)
}

func (o *fakeOverlay) NodeByKey(k string) (overlay.Node, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, n := range o.nodes {
		if n.NodeKey == k {
			return n, nil
		}
	}
	return overlay.Node{}, overlay.ErrNotFound
}

func (o *fakeOverlay) add(n overlay.Node) {
	o.mu.Lock()
	o.nodes = append(o.nodes, n)
	o.mu.Unlock()
}

// world is a desk over an in-memory store with two machines, one of Acme
// (in the scope of every caller) and one of Globex (out of the scope of
// every caller but an admin), served by the API and the dashboard.
type world struct {
	d        *desk.Desk
	accounts *identity.Accounts
	support  *support.Desk
	overlay  *fakeOverlay
	api, web http.Handler
	dev      map[bool]string // in scope → device id
	creator  map[bool]string // in scope → an account whose codes are of that company
	joins    int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	db, err := store.OpenInMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	accounts, err := identity.New(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{accounts: accounts, support: support.New(db, nil), overlay: &fakeOverlay{},
		dev: map[bool]string{}, creator: map[bool]string{}}
	ts, err := tickets.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := webhooks.New(webhooks.Config{DB: db}) // never Run: nothing is sent
	if err != nil {
		t.Fatal(err)
	}
	w.d = desk.New(desk.Config{Accounts: accounts, Registry: enroll.New(db, nil), Audit: audit.New(db, nil),
		ConsentRules: consentrules.New(db, nil), Assistant: assist.NewSettings(db, nil), Overlay: w.overlay, Support: w.support, ControlURL: "https://coord.test", GrantKey: key, Pin: strings.Repeat("ab", 32),
		Tickets: ts, Webhooks: hooks})
	w.api = api.New(api.Config{Desk: w.d}).Handler()
	w.web = web.New(web.Config{Backend: w.d, Desk: w.d, Portal: w.d, Accounts: w.d, Tickets: w.d, Assistant: w.d, PublicURL: "https://coord.test"})
	for i, company := range map[bool]string{true: "acme", false: "globex"} {
		// The token files the device (M6); its own report claims nothing.
		tok, err := w.d.CreateToken(desk.Local(), enroll.TokenOptions{Company: company})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := w.d.Enroll("192.0.2.1", wire.EnrollRequest{Token: tok.Token, MachineID: strings.Repeat(map[bool]string{true: "a", false: "b"}[i], 64), Hostname: "pc-" + company, OS: "linux"})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.d.Inventory(enroll.Device{ID: resp.DeviceID}, "192.0.2.1", wire.Inventory{Metadata: wire.Metadata{Company: "claimed-" + company}}); err != nil {
			t.Fatal(err)
		}
		w.overlay.add(overlay.Node{NodeKey: "nodekey:" + resp.DeviceID, Tags: []string{wire.TagAgent},
			AuthKeyID: w.overlay.next, IPv4: netip.MustParseAddr(fmt.Sprintf("100.64.0.%d", len(w.dev)+1))})
		w.dev[i] = resp.DeviceID
		w.creator[i] = "maker-" + company
		if err := accounts.CreateScoped(w.creator[i], "correct horse battery", policy.RoleTechnician, policy.Scope{company}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// enrollOne enrolls a fresh machine of the company in (or out of) scope
// and returns its device id.
func (w *world) enrollOne(t *testing.T, in bool) string {
	t.Helper()
	company := map[bool]string{true: "acme", false: "globex"}[in]
	tok, err := w.d.CreateToken(desk.Local(), enroll.TokenOptions{Company: company})
	if err != nil {
		t.Fatal(err)
	}
	w.joins++
	resp, err := w.d.Enroll("192.0.2.1", wire.EnrollRequest{Token: tok.Token, MachineID: fmt.Sprintf("%064x", 1000+w.joins), Hostname: "pc", OS: "linux"})
	if err != nil {
		t.Fatal(err)
	}
	return resp.DeviceID
}

// caller is an account of role (limited to Acme unless an admin) with a
// technician node of its own; it returns its session token.
func (w *world) caller(t *testing.T, role policy.Role) (string, identity.Session) {
	t.Helper()
	name := "tech-" + string(role)
	scope := policy.Scope{"acme"}
	if err := w.accounts.CreateScoped(name, "correct horse battery", role, scope); err != nil && !errors.Is(err, identity.ErrExists) {
		t.Fatal(err)
	}
	tok, sess, err := w.accounts.NewSession(identity.User{Name: name, Role: role, Companies: scope})
	if err != nil {
		t.Fatal(err)
	}
	keyID := uint64(10_000 + slices.Index(policy.Roles, role))
	if err := w.accounts.RecordOverlayKey(keyID, name); err != nil {
		t.Fatal(err)
	}
	if _, err := w.overlay.NodeByKey("nodekey:" + name); err != nil {
		w.overlay.add(overlay.Node{NodeKey: "nodekey:" + name, Tags: []string{wire.TagTech}, AuthKeyID: keyID})
	}
	return tok, sess
}

// requestCode is a fresh code the machine in (or out of) scope asked for.
func (w *world) requestCode(t *testing.T, in bool) string {
	t.Helper()
	c, err := w.d.Ask(enroll.Device{ID: w.dev[in], Hostname: "pc"})
	if err != nil {
		t.Fatal(err)
	}
	return c.Code
}

// teamCode is a fresh team code of the company in (or out of) scope.
func (w *world) teamCode(t *testing.T, in bool) string {
	t.Helper()
	c, err := w.d.GenerateCode(desk.Caller{User: w.creator[in], Role: policy.RoleTechnician, Scope: policy.Scope{map[bool]string{true: "acme", false: "globex"}[in]}}, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c.Code
}

// session is a fresh unclaimed one-time session opened with a team code
// of the company in (or out of) scope.
func (w *world) session(t *testing.T, in bool) string {
	t.Helper()
	w.joins++
	j, err := w.d.Join(fmt.Sprintf("198.51.100.%d", w.joins), wire.JoinRequest{Code: w.teamCode(t, in), Hostname: "visitor", OS: "linux"})
	if err != nil {
		t.Fatal(err)
	}
	return j.Session
}

// ticket is a fresh ticket the machine in (or out of) scope filed, with
// one attachment.
func (w *world) ticket(t *testing.T, in bool) string {
	t.Helper()
	w.joins++
	rc, err := w.d.FileAgentTicket(enroll.Device{ID: w.dev[in], Hostname: "pc"}, wire.AgentTicket{ID: fmt.Sprintf("%032x", w.joins),
		Title: "Printer offline", Priority: wire.PriorityNormal, Attachments: []wire.Attachment{{Name: "log.txt", Type: "text/plain", Data: []byte("paper jam")}}})
	if err != nil {
		t.Fatal(err)
	}
	return rc.Ticket
}

// webhook is a fresh webhook's id.
func (w *world) webhook(t *testing.T) string {
	t.Helper()
	h, err := w.d.CreateWebhook(desk.Local(), wire.WebhookCreate{URL: "https://psa.example/hook", Events: wire.WebhookEvents})
	if err != nil {
		t.Fatal(err)
	}
	return h.ID
}

// cell is one request of the matrix and how to read its answer: whether
// the in-scope target (mark) is listed, for lists.
type cell struct {
	method, path string
	body         string // JSON for the API, a form (without csrf) for the dashboard
	mark         string // for list routes: what the target looks like in the answer
}

// cells builds each technician route's request against the target in (or
// out of) scope. A route missing here fails the matrix: a new route must
// say how it is exercised.
var cells = map[string]func(t *testing.T, w *world, in bool, caller string) cell{
	"GET " + wire.PathDevices: func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"GET", wire.PathDevices, "", w.dev[in]}
	},
	"POST " + wire.PathGrant: func(t *testing.T, w *world, in bool, caller string) cell {
		return cell{"POST", wire.PathGrant, fmt.Sprintf(`{"device_id":%q,"node_key":"nodekey:%s","capabilities":["sysinfo"]}`, w.dev[in], caller), ""}
	},
	"POST " + wire.PathWake: func(t *testing.T, w *world, in bool, caller string) cell {
		return cell{"POST", wire.PathWake, fmt.Sprintf(`{"device_id":%q,"node_key":"nodekey:%s"}`, w.dev[in], caller), ""}
	},
	"POST " + wire.PathTokens: func(*testing.T, *world, bool, string) cell {
		return cell{"POST", wire.PathTokens, `{}`, ""}
	},
	"POST " + wire.PathSupportCodes: func(*testing.T, *world, bool, string) cell {
		return cell{"POST", wire.PathSupportCodes, `{}`, ""}
	},
	"POST " + wire.PathSupportCodes + "/{code}/cancel": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"POST", wire.PathSupportCodes + "/" + w.teamCode(t, in) + "/cancel", "", ""}
	},
	"POST " + wire.PathSupportRedeem: func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"POST", wire.PathSupportRedeem, fmt.Sprintf(`{"code":%q}`, w.requestCode(t, in)), ""}
	},
	"GET " + wire.PathSupportSessions: func(t *testing.T, w *world, in bool, _ string) cell {
		c := w.requestCode(t, in)
		return cell{"GET", wire.PathSupportSessions, "", `"code":"` + c + `"`}
	},
	"POST " + wire.PathSupportSessions + "/{id}/end": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"POST", wire.PathSupportSessions + "/" + w.session(t, in) + "/end", "", ""}
	},

	"GET /machines": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"GET", "/machines", "", w.dev[in]}
	},
	"POST /machines/filters": func(*testing.T, *world, bool, string) cell {
		return cell{"POST", "/machines/filters", "name=mine&q=pc", ""}
	},
	"GET /tokens":  func(*testing.T, *world, bool, string) cell { return cell{"GET", "/tokens", "", ""} },
	"POST /tokens": func(*testing.T, *world, bool, string) cell { return cell{"POST", "/tokens", "ttl=24h&note=x", ""} },
	"GET /support/desk": func(t *testing.T, w *world, in bool, _ string) cell {
		c := w.requestCode(t, in)
		return cell{"GET", "/support/desk", "", `id="request-` + c + `"`}
	},
	"POST /support/desk/codes": func(*testing.T, *world, bool, string) cell {
		return cell{"POST", "/support/desk/codes", "assign=me&expiry=none", ""}
	},
	"POST /support/desk/codes/{code}/cancel": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"POST", "/support/desk/codes/" + w.teamCode(t, in) + "/cancel", "x=1", ""}
	},
	"POST /support/desk/redeem": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"POST", "/support/desk/redeem", "code=" + w.requestCode(t, in), ""}
	},
	"POST /support/desk/sessions/{id}/end": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"POST", "/support/desk/sessions/" + w.session(t, in) + "/end", "x=1", ""}
	},
	"GET /users": func(*testing.T, *world, bool, string) cell { return cell{"GET", "/users", "", ""} },
	"POST /users": func(t *testing.T, w *world, _ bool, _ string) cell {
		w.joins++
		return cell{"POST", "/users", fmt.Sprintf("name=new-%d&password=correct+horse+battery&role=viewer", w.joins), ""}
	},
	"POST /users/{name}/{op}": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"POST", "/users/" + w.creator[in] + "/unlock", "x=1", ""}
	},
	"POST /settings/rules": func(*testing.T, *world, bool, string) cell {
		return cell{"POST", "/settings/rules", "totp_required=off", ""}
	},
	"GET /machines/admin": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"GET", "/machines/admin", "", w.dev[in]}
	},
	"POST /machines/admin/{id}/{op}": func(t *testing.T, w *world, in bool, _ string) cell {
		// A machine of its own each time: the reset forgets it.
		return cell{"POST", "/machines/admin/" + w.enrollOne(t, in) + "/reset", "x=1", ""}
	},
	"GET " + wire.PathConsentRules: func(t *testing.T, w *world, _ bool, _ string) cell {
		// Rules to read (none reads as absent).
		if err := w.d.SetConsentRules(desk.Local(), policy.AttendedRules()); err != nil {
			t.Fatal(err)
		}
		return cell{"GET", wire.PathConsentRules, "", ""}
	},
	"PUT " + wire.PathConsentRules: func(*testing.T, *world, bool, string) cell {
		return cell{"PUT", wire.PathConsentRules, `{"default":["screen"],"by_company":{"acme":["power"]}}`, ""}
	},
	"DELETE " + wire.PathConsentRules: func(*testing.T, *world, bool, string) cell {
		return cell{"DELETE", wire.PathConsentRules, "", ""}
	},
	"GET " + wire.PathAssistSettings: func(*testing.T, *world, bool, string) cell {
		return cell{"GET", wire.PathAssistSettings, "", ""}
	},
	"PUT " + wire.PathAssistSettings: func(*testing.T, *world, bool, string) cell {
		return cell{"PUT", wire.PathAssistSettings, `{"model":"qwen3:8b","default":{"enabled":true,"allow":["cpu","clear_temp"],"contacts":"555-0100"}}`, ""}
	},
	"GET /assistant": func(*testing.T, *world, bool, string) cell { return cell{"GET", "/assistant", "", ""} },
	"POST /assistant/model": func(*testing.T, *world, bool, string) cell {
		return cell{"POST", "/assistant/model", "model=qwen3%3A8b", ""}
	},
	"POST /assistant/companies": func(*testing.T, *world, bool, string) cell {
		return cell{"POST", "/assistant/companies", "company=&enabled=on&contacts=555-0100&allow=cpu&allow=clear_temp", ""}
	},
	"POST /assistant/companies/delete": func(t *testing.T, w *world, _ bool, _ string) cell {
		// An entry to remove.
		set := wire.AssistSettings{Default: wire.AssistCompany{Enabled: true}, Companies: map[string]wire.AssistCompany{"acme": {Enabled: false}}}
		if err := w.d.SetAssistSettings(desk.Local(), set); err != nil {
			t.Fatal(err)
		}
		return cell{"POST", "/assistant/companies/delete", "company=acme", ""}
	},
	"POST /settings/consent-rules": func(*testing.T, *world, bool, string) cell {
		return cell{"POST", "/settings/consent-rules", "op=save&default=screen&companies=acme%3A+power&devices=", ""}
	},
	"GET " + wire.PathTickets: func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"GET", wire.PathTickets, "", `"number":"` + w.ticket(t, in) + `"`}
	},
	"POST " + wire.PathTickets: func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"POST", wire.PathTickets, fmt.Sprintf(`{"title":"Slow","device":%q}`, w.dev[in]), ""}
	},
	"GET " + wire.PathTickets + "/{number}": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"GET", wire.PathTickets + "/" + w.ticket(t, in), "", ""}
	},
	"PATCH " + wire.PathTickets + "/{number}": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"PATCH", wire.PathTickets + "/" + w.ticket(t, in), `{"priority":"urgent"}`, ""}
	},
	"POST " + wire.PathTickets + "/{number}/comments": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"POST", wire.PathTickets + "/" + w.ticket(t, in) + "/comments", `{"text":"on my way"}`, ""}
	},
	"POST " + wire.PathTickets + "/{number}/attachments": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"POST", wire.PathTickets + "/" + w.ticket(t, in) + "/attachments", `{"name":"b.txt","type":"text/plain","data":"aGk="}`, ""}
	},
	"GET " + wire.PathTickets + "/{number}/attachments/{index}": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"GET", wire.PathTickets + "/" + w.ticket(t, in) + "/attachments/0", "", ""}
	},
	"GET " + wire.PathWebhooks: func(t *testing.T, w *world, _ bool, _ string) cell {
		return cell{"GET", wire.PathWebhooks, "", ""}
	},
	"POST " + wire.PathWebhooks: func(t *testing.T, w *world, _ bool, _ string) cell {
		return cell{"POST", wire.PathWebhooks, `{"url":"https://psa.example/x","events":["ticket.created"]}`, ""}
	},
	"POST " + wire.PathWebhooks + "/{id}/delete": func(t *testing.T, w *world, _ bool, _ string) cell {
		return cell{"POST", wire.PathWebhooks + "/" + w.webhook(t) + "/delete", "", ""}
	},
	"GET " + wire.PathWebhooks + "/{id}/deliveries": func(t *testing.T, w *world, _ bool, _ string) cell {
		return cell{"GET", wire.PathWebhooks + "/" + w.webhook(t) + "/deliveries", "", ""}
	},

	"GET /tickets": func(t *testing.T, w *world, in bool, _ string) cell {
		n := w.ticket(t, in)
		return cell{"GET", "/tickets", "", `id="ticket-` + n + `"`}
	},
	"POST /tickets": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"POST", "/tickets", "title=Slow&device=" + w.dev[in], ""}
	},
	"GET /tickets/events": func(t *testing.T, w *world, in bool, _ string) cell {
		n := w.ticket(t, in)
		return cell{"GET", "/tickets/events", "", `id="ticket-` + n + `"`}
	},
	"GET /tickets/{number}": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"GET", "/tickets/" + w.ticket(t, in), "", ""}
	},
	"GET /tickets/{number}/events": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"GET", "/tickets/" + w.ticket(t, in) + "/events", "", ""}
	},
	"POST /tickets/{number}/update": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"POST", "/tickets/" + w.ticket(t, in) + "/update", "status=resolved", ""}
	},
	"POST /tickets/{number}/comments": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"POST", "/tickets/" + w.ticket(t, in) + "/comments", "text=hello", ""}
	},
	"GET /tickets/{number}/attachments/{index}": func(t *testing.T, w *world, in bool, _ string) cell {
		return cell{"GET", "/tickets/" + w.ticket(t, in) + "/attachments/0", "", ""}
	},
	"GET /tickets/webhooks": func(*testing.T, *world, bool, string) cell { return cell{"GET", "/tickets/webhooks", "", ""} },
	"POST /tickets/webhooks": func(*testing.T, *world, bool, string) cell {
		return cell{"POST", "/tickets/webhooks", "url=https%3A%2F%2Fpsa.example%2Fx&events=ticket.created", ""}
	},
	"POST /tickets/webhooks/{id}/delete": func(t *testing.T, w *world, _ bool, _ string) cell {
		return cell{"POST", "/tickets/webhooks/" + w.webhook(t) + "/delete", "x=1", ""}
	},

	"GET /support/desk/events": func(t *testing.T, w *world, in bool, _ string) cell {
		c := w.requestCode(t, in)
		return cell{"GET", "/support/desk/events", "", `id="request-` + c + `"`}
	},
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// TestRouteRoleScopeMatrix walks every technician route of the API and
// the dashboard, as each role, against a target in and out of the
// caller's company scope, and checks each answer against what policy
// decides: a role policy.Allow refuses gets 403; an allowed role gets a
// target out of policy.InScope as absent (404, or missing from a list),
// and one in scope as neither refused nor absent (nor unauthenticated).
func TestRouteRoleScopeMatrix(t *testing.T) {
	leak.Check(t)
	w := newWorld(t)
	type table struct {
		name  string
		h     http.Handler
		rules []desk.Rule
	}
	for _, tb := range []table{{"api", w.api, api.Rules()}, {"web", w.web, web.Rules()}} {
		for _, rule := range tb.rules {
			if rule.Auth != desk.Technician || rule.Action == "" {
				continue
			}
			build, ok := cells[rule.Pattern]
			if !ok {
				t.Errorf("%s %q: the matrix has no request for this route", tb.name, rule.Pattern)
				continue
			}
			for _, role := range policy.Roles {
				token, _ := w.caller(t, role)
				for _, in := range []bool{true, false} {
					c := build(t, w, in, "tech-"+string(role))
					allowed := policy.Allow(role, rule.Action) == nil
					company := map[bool]string{true: "acme", false: "globex"}[in]
					inScope := rule.Target == desk.NoTarget || policy.InScope(role, policy.Scope{"acme"}, company)
					status, body := w.send(t, tb.name, tb.h, token, c)
					what := fmt.Sprintf("%s %s as %s, target of %s", tb.name, rule.Pattern, role, company)
					switch {
					case !allowed:
						if status != http.StatusForbidden {
							t.Errorf("%s: %d, want 403 (policy.Allow refuses)", what, status)
						}
					case rule.Target == desk.ListTarget:
						if status != http.StatusOK {
							t.Errorf("%s: %d, want 200", what, status)
						} else if listed := strings.Contains(body, c.mark); listed != inScope {
							t.Errorf("%s: listed = %v, want %v (policy.InScope)", what, listed, inScope)
						}
					case !inScope:
						if status != http.StatusNotFound {
							t.Errorf("%s: %d, want 404 (out of scope reads as absent)", what, status)
						}
					default:
						if status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound || status >= 500 {
							t.Errorf("%s: %d, want an answer that is neither a refusal nor absent:\n%.300s", what, status, body)
						}
					}
				}
			}
		}
	}
}

// send makes a cell's request with the session token: a bearer token for
// the API; the cookie and the form's CSRF token for the dashboard.
func (w *world) send(t *testing.T, which string, h http.Handler, token string, c cell) (int, string) {
	t.Helper()
	var body string
	if which == "web" && c.method == "POST" {
		// Every role may list machines, whose page carries the CSRF
		// token of the session.
		status, page := w.send(t, which, h, token, cell{method: "GET", path: "/machines"})
		m := csrfField.FindStringSubmatch(page)
		if status != http.StatusOK || m == nil {
			t.Fatalf("no CSRF token on /machines: %d", status)
		}
		body = c.body + "&csrf=" + url.QueryEscape(m[1])
	} else {
		body = c.body
	}
	req := httptest.NewRequest(c.method, "https://coord.test"+c.path, strings.NewReader(body))
	req.RemoteAddr = "192.0.2.7:1234"
	if which == "api" {
		req.Header.Set("Authorization", "Bearer "+token)
	} else {
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: token})
		if c.method == "POST" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	rec := httptest.NewRecorder()
	if strings.HasSuffix(c.path, "/events") {
		// The stream sends the board, then waits for a change or its
		// request's end: end it once the board is written.
		ctx, cancel := context.WithCancel(req.Context())
		defer cancel()
		h.ServeHTTP(&cancelAfterBoard{rec, cancel}, req.WithContext(ctx))
		return rec.Code, rec.Body.String()
	}
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// cancelAfterBoard ends a live stream's request once a board is written.
type cancelAfterBoard struct {
	*httptest.ResponseRecorder
	cancel func()
}

func (c *cancelAfterBoard) Write(b []byte) (int, error) {
	n, err := c.ResponseRecorder.Write(b)
	if strings.Contains(string(b), "event: board") || strings.Contains(string(b), "event: live") {
		c.cancel()
	}
	return n, err
}

// TestUnauthenticatedRoutes enumerates the routes of the API and the
// dashboard and sends each a request without credentials: each must
// refuse it (401 or 403) or send the browser to the login form, unless it
// is on its transport's declared public list.
func TestUnauthenticatedRoutes(t *testing.T) {
	leak.Check(t)
	w := newWorld(t)
	for _, tb := range []struct {
		name   string
		h      http.Handler
		rules  []desk.Rule
		public []string
	}{{"api", w.api, api.Rules(), api.PublicRoutes}, {"web", w.web, web.Rules(), web.PublicRoutes}} {
		for _, rule := range tb.rules {
			if (rule.Auth == desk.Public) != slices.Contains(tb.public, rule.Pattern) {
				t.Errorf("%s %q: authentication %s disagrees with the public list", tb.name, rule.Pattern, rule.Auth)
			}
			if slices.Contains(tb.public, rule.Pattern) {
				continue
			}
			method, path, _ := strings.Cut(rule.Pattern, " ")
			path = regexp.MustCompile(`\{[^}]*\}`).ReplaceAllStringFunc(path, func(p string) string {
				if p == "{$}" {
					return ""
				}
				return "x"
			})
			req := httptest.NewRequest(method, "https://coord.test"+path, strings.NewReader("{}"))
			rec := httptest.NewRecorder()
			tb.h.ServeHTTP(rec, req)
			switch {
			case rec.Code == http.StatusUnauthorized, rec.Code == http.StatusForbidden:
			case rec.Code == http.StatusSeeOther && rec.Header().Get("Location") == "/login":
			default:
				t.Errorf("%s %s without credentials: %d (Location %q), want 401, 403 or a redirect to /login",
					tb.name, rule.Pattern, rec.Code, rec.Header().Get("Location"))
			}
		}
	}
}

func (c *cancelAfterBoard) WriteString(s string) (int, error) { return c.Write([]byte(s)) }
