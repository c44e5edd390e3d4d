package webui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/templates/viewerui"
	"github.com/peerdesk/peerdesk/wire"
)

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	s.homeWith(w, r, http.StatusOK, "")
}

func (s *Server) homeWith(w http.ResponseWriter, r *http.Request, status int, msg string) {
	v := viewerui.Home{User: s.v.Session().Username, CSRF: s.csrf(), Error: msg}
	board, err := s.v.Coordinator().Board(r.Context())
	if err != nil && v.Error == "" {
		v.Error = "The coordinator is unreachable: " + err.Error()
	}
	for _, ss := range board.Sessions {
		if ss.State != "open" {
			continue
		}
		v.Sessions = append(v.Sessions, viewerui.Session{
			ID: ss.ID, Code: ss.Code, Device: ss.Device, Hostname: ss.Hostname, OS: ss.OS, Technician: ss.Technician,
			OneTime: ss.OneTime, Created: ss.Created, Mine: ss.Technician == v.User,
		})
	}
	if devs, err := s.v.Devices(r.Context()); err == nil {
		for _, d := range devs {
			v.Devices = append(v.Devices, viewerui.Device{ID: d.ID, Hostname: d.Hostname, OS: d.OS, Online: d.Online, Agent: "protocol " + fmt.Sprint(d.Agent.Version())})
		}
	}
	s.render(w, r, status, viewerui.HomePage(v))
}

// redeem: the end user read out a code their agent got; use it and open
// the session.
func (s *Server) redeem(w http.ResponseWriter, r *http.Request) {
	code := strings.TrimSpace(r.PostFormValue("code"))
	ss, err := s.v.Coordinator().Redeem(r.Context(), code)
	if err != nil {
		s.homeWith(w, r, http.StatusBadRequest, peerMessage(err))
		return
	}
	http.Redirect(w, r, "/session/"+ss.ID, http.StatusSeeOther)
}

func (s *Server) sessionPage(w http.ResponseWriter, r *http.Request) {
	board, err := s.v.Coordinator().Board(r.Context())
	if err != nil {
		s.homeWith(w, r, http.StatusBadGateway, "The coordinator is unreachable: "+err.Error())
		return
	}
	for _, ss := range board.Sessions {
		if ss.ID == r.PathValue("id") && ss.State == "open" {
			s.screen(w, r, ss.Hostname, ss.Device, ss.ID, ss.Agent)
			return
		}
	}
	s.homeWith(w, r, http.StatusNotFound, "That session is not open.")
}

func (s *Server) devicePage(w http.ResponseWriter, r *http.Request) {
	devs, err := s.v.Devices(r.Context())
	if err != nil {
		s.homeWith(w, r, http.StatusBadGateway, "The coordinator is unreachable: "+err.Error())
		return
	}
	for _, d := range devs {
		if d.ID == r.PathValue("id") {
			s.screen(w, r, d.Hostname, d.ID, "", d.Agent)
			return
		}
	}
	s.homeWith(w, r, http.StatusNotFound, "No such machine.")
}

func (s *Server) screen(w http.ResponseWriter, r *http.Request, title, device, session string, agent wire.Served) {
	cfg, _ := json.Marshal(map[string]string{"device": device, "session": session, "csrf": s.csrf()}) //nolint:errcheck // strings cannot fail
	s.render(w, r, http.StatusOK, viewerui.ScreenPage(viewerui.Screen{
		Title: title, Device: device, Session: session, Config: string(cfg), Control: true, CSRF: s.csrf(),
		Confirm: crossSite(r), Unserved: unserved(title, agent),
	}))
}

// ice gets a grant for the device (screen and input) and relay
// credentials that reach only the device's agent.
func (s *Server) ice(w http.ResponseWriter, r *http.Request) {
	device := r.PathValue("device")
	g, err := s.v.Grant(r.Context(), device, wire.CapScreen, wire.CapInput)
	if err != nil {
		writeErr(w, err)
		return
	}
	ip, err := netip.ParseAddr(g.OverlayIP)
	if err != nil {
		writeErr(w, err)
		return
	}
	// Bring the WireGuard path up now: the browser's first checks would
	// otherwise wait out a handshake the agent could not yet answer.
	if n, err := s.v.Node(r.Context()); err == nil {
		if err := n.Reach(r.Context(), ip); err != nil {
			s.log.Warn("the agent does not answer on the overlay yet", "ip", ip, "err", err)
		}
	}
	s.mu.Lock()
	s.grants[device] = g
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.relay.Allow(ip))
}

// offer forwards the browser's offer to the agent over the overlay.
func (s *Server) offer(w http.ResponseWriter, r *http.Request) {
	device := r.PathValue("device")
	var req wire.ScreenOffer
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, wire.MaxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.SDP == "" {
		writeJSON(w, http.StatusBadRequest, wire.Error{Code: wire.CodeBadRequest, Message: "an SDP offer is required"})
		return
	}
	s.mu.Lock()
	g, ok := s.grants[device]
	s.mu.Unlock()
	if !ok || time.Until(g.Expires) < time.Minute {
		writeJSON(w, http.StatusConflict, wire.Error{Code: wire.CodeConflict, Message: "ask for relay credentials first"})
		return
	}
	ans, err := s.v.OfferWith(r.Context(), g, req)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

func (s *Server) end(w http.ResponseWriter, r *http.Request) {
	if err := s.v.Coordinator().EndSession(r.Context(), r.PathValue("session")); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// wakePage asks the technician to confirm a wake-up; wake sends it.
func (s *Server) wakePage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, viewerui.WakePage(viewerui.Wake{Device: r.PathValue("id"), CSRF: s.csrf()}))
}

func (s *Server) wake(w http.ResponseWriter, r *http.Request) {
	v := viewerui.Wake{Device: r.PathValue("id"), CSRF: s.csrf()}
	relay, res, err := s.v.Wake(r.Context(), v.Device)
	if err != nil {
		v.Error = "Not woken: " + peerMessage(err)
		s.render(w, r, http.StatusBadGateway, viewerui.WakePage(v))
		return
	}
	v.Relay, v.Sent = relay, strings.Join(res.Sent, "; ")
	s.render(w, r, http.StatusOK, viewerui.WakePage(v))
}

// tools shows a machine's system information, read from its agent, and
// its power actions.
func (s *Server) tools(w http.ResponseWriter, r *http.Request) {
	s.renderTools(w, r, http.StatusOK, viewerui.Tools{Device: r.PathValue("id")})
}

// power sends the chosen power action; the agent answers with its steps.
func (s *Server) power(w http.ResponseWriter, r *http.Request) {
	v := viewerui.Tools{Device: r.PathValue("id")}
	req := wire.PowerRequest{Action: wire.PowerAction(r.PostFormValue("action")), Confirm: r.PostFormValue("confirm") == "yes",
		KeepSafeMode: r.PostFormValue("keep") == "yes"}
	res, err := s.v.Power(r.Context(), v.Device, req)
	status := http.StatusOK
	if err != nil {
		status, v.Error = http.StatusBadGateway, "Not done: "+peerMessage(err)
	}
	v.Steps = res.Steps
	s.renderTools(w, r, status, v)
}

func (s *Server) renderTools(w http.ResponseWriter, r *http.Request, status int, v viewerui.Tools) {
	v.CSRF, v.Hostname = s.csrf(), v.Device
	host, agent, listed := s.machineAgent(r.Context(), v.Device)
	if listed {
		v.Hostname, v.Unserved = host, unserved(host, agent)
	}
	for _, a := range wire.PowerActions {
		v.Actions = append(v.Actions, string(a))
	}
	inv, err := s.v.SysInfo(r.Context(), v.Device)
	if err != nil {
		if v.Error == "" {
			v.Error = "System information unavailable: " + peerMessage(err)
		}
	} else {
		v.Hostname = inv.Hostname
		for _, f := range [][2]string{{"Host name", inv.Hostname}, {"OS", strings.TrimSpace(inv.Platform + " " + inv.OSVersion)},
			{"Kernel", inv.KernelVersion}, {"CPU", inv.CPUModel}, {"Logged-on user", inv.LoggedOnUser},
			{"Serial", inv.Serial}, {"Maker / model", strings.TrimSpace(inv.Maker + " " + inv.Model)},
			{"Gateway", inv.Gateway}, {"Agent", inv.AgentVersion}} {
			if f[1] != "" {
				v.Facts = append(v.Facts, f)
			}
		}
		if listed {
			v.Facts = append(v.Facts, [2]string{"Agent protocol", agentWords(agent)})
		}
	}
	s.render(w, r, status, viewerui.ToolsPage(v))
}

// peerMessage is err as a technician should read it.
func peerMessage(err error) string {
	if we, ok := err.(*wire.Error); ok {
		return we.Message
	}
	return err.Error()
}
