package wol

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/wire"
)

const up = net.FlagUp | net.FlagBroadcast | net.FlagMulticast | net.FlagRunning

var (
	eth0 = iface{Name: "eth0", Index: 2, Flags: up, MAC: mustMAC("52:54:00:00:00:01"),
		Addrs: []netip.Prefix{netip.MustParsePrefix("192.168.1.5/24"), netip.MustParsePrefix("fe80::1/64")}}
	eth1 = iface{Name: "eth1", Index: 3, Flags: up, MAC: mustMAC("52:54:00:00:00:02"),
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.20.0.7/16")}}
	lo = iface{Name: "lo", Index: 1, Flags: net.FlagUp | net.FlagLoopback,
		Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}}
	tailscale0 = iface{Name: "tailscale0", Index: 9, Flags: net.FlagUp | net.FlagPointToPoint | net.FlagMulticast,
		Addrs: []netip.Prefix{netip.MustParsePrefix("100.64.1.2/32")}}
)

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func with(ifc iface, f func(*iface)) iface { f(&ifc); return ifc }

func TestPick(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ifs     []iface
		subnet  string
		want    string // "eth0 192.168.1.5 192.168.1.255"; "" means ErrNotOnSubnet
		wantErr bool
	}{
		{name: "the interface on the subnet", ifs: []iface{lo, eth0, eth1}, subnet: "192.168.1.0/24", want: "eth0 192.168.1.5 192.168.1.255"},
		{name: "a relay on two LANs sends only onto the asked one", ifs: []iface{lo, eth0, eth1}, subnet: "10.20.0.0/16", want: "eth1 10.20.0.7 10.20.255.255"},
		{name: "not on the subnet", ifs: []iface{lo, eth0, eth1}, subnet: "192.168.2.0/24"},
		{name: "same network number, other mask, address outside", ifs: []iface{eth0}, subnet: "192.168.0.0/24"},
		{name: "interface down", ifs: []iface{with(eth0, func(i *iface) { i.Flags &^= net.FlagUp })}, subnet: "192.168.1.0/24"},
		{name: "no broadcast (tunnel)", ifs: []iface{with(eth0, func(i *iface) { i.Flags &^= net.FlagBroadcast })}, subnet: "192.168.1.0/24"},
		{name: "the overlay interface is never a LAN", ifs: []iface{tailscale0}, subnet: "100.64.0.0/10"},
		{name: "loopback", ifs: []iface{lo}, subnet: "127.0.0.0/8"},
		{name: "no Ethernet address", ifs: []iface{with(eth0, func(i *iface) { i.MAC = nil })}, subnet: "192.168.1.0/24"},
		{name: "a /31 address has no broadcast", ifs: []iface{with(eth0, func(i *iface) { i.Addrs = []netip.Prefix{netip.MustParsePrefix("192.168.1.4/31")} })}, subnet: "192.168.1.0/24"},
		{name: "IPv6 only", ifs: []iface{with(eth0, func(i *iface) { i.Addrs = i.Addrs[1:] })}, subnet: "192.168.1.0/24"},
		{name: "two interfaces on the subnet: the lowest index", ifs: []iface{
			with(eth1, func(i *iface) { i.Index = 7; i.Addrs = []netip.Prefix{netip.MustParsePrefix("192.168.1.9/24")} }), eth0},
			subnet: "192.168.1.0/24", want: "eth0 192.168.1.5 192.168.1.255"},
		{name: "the first IPv4 address inside the subnet", ifs: []iface{with(eth0, func(i *iface) {
			i.Addrs = []netip.Prefix{netip.MustParsePrefix("10.9.9.9/24"), netip.MustParsePrefix("192.168.1.77/24"), netip.MustParsePrefix("192.168.1.5/24")}
		})}, subnet: "192.168.1.0/24", want: "eth0 192.168.1.77 192.168.1.255"},
		{name: "a narrower interface network broadcasts on its own network", ifs: []iface{with(eth0, func(i *iface) { i.Addrs = []netip.Prefix{netip.MustParsePrefix("192.168.1.5/25")} })},
			subnet: "192.168.1.0/24", want: "eth0 192.168.1.5 192.168.1.127"},
		{name: "no interfaces", subnet: "192.168.1.0/24"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := pick(tc.ifs, netip.MustParsePrefix(tc.subnet))
			if tc.want == "" {
				if !errors.Is(err, ErrNotOnSubnet) {
					t.Errorf("pick = %+v, %v; want ErrNotOnSubnet", out, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("pick: %v", err)
			}
			if got := fmt.Sprintf("%s %s %s", out.ifc.Name, out.src, out.broadcast); got != tc.want {
				t.Errorf("pick = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBroadcast(t *testing.T) {
	for in, want := range map[string]string{
		"192.168.1.5/24": "192.168.1.255",
		"10.20.0.7/16":   "10.20.255.255",
		"10.0.0.1/8":     "10.255.255.255",
		"172.16.5.9/20":  "172.16.15.255",
		"192.168.1.5/30": "192.168.1.7",
		"192.168.1.1/32": "192.168.1.1",
		"1.2.3.4/0":      "255.255.255.255",
	} {
		if got := broadcast(netip.MustParsePrefix(in)); got.String() != want {
			t.Errorf("broadcast(%s) = %s, want %s", in, got, want)
		}
	}
}

// fakeLAN records what the handler sends.
type fakeLAN struct {
	ifs    []iface
	ifsErr error
	udpErr error
	ethErr error
	sent   []string
}

func (f *fakeLAN) interfaces() ([]iface, error) { return f.ifs, f.ifsErr }

func (f *fakeLAN) sendUDP(ifc iface, src netip.Addr, dst netip.AddrPort, p []byte) error {
	if f.udpErr != nil {
		return f.udpErr
	}
	f.sent = append(f.sent, fmt.Sprintf("udp %s->%s on %s: %s", src, dst, ifc.Name, describe(p)))
	return nil
}

func (f *fakeLAN) sendEthernet(ifc iface, p []byte) error {
	if f.ethErr != nil {
		return f.ethErr
	}
	f.sent = append(f.sent, fmt.Sprintf("ethernet on %s: %s", ifc.Name, describe(p)))
	return nil
}

func describe(p []byte) string {
	mac, err := ParseMagic(p)
	if err != nil {
		return err.Error()
	}
	return "magic " + mac.String()
}

func TestHandler(t *testing.T) {
	const body = `{"mac":"00:1B:21:AA:BB:CC","subnet":"192.168.1.0/24"}`
	const magic = "magic 00:1b:21:aa:bb:cc"
	sendErr := errors.New("sendto: network is down")
	unsupported := fmt.Errorf("wol.sendEthernet eth0: %w", errors.ErrUnsupported)
	for _, tc := range []struct {
		name     string
		method   string // POST unless set
		body     string
		lan      fakeLAN
		status   int
		code     string // error code, for non-200
		msg      string // part of the error message
		want     []string
		wantSent []string
	}{
		{name: "both sent", body: body, lan: fakeLAN{ifs: []iface{lo, eth0, eth1}}, status: 200,
			want:     []string{"udp 192.168.1.255:9 via eth0", "ethernet 0x0842 via eth0"},
			wantSent: []string{"udp 192.168.1.5->192.168.1.255:9 on eth0: " + magic, "ethernet on eth0: " + magic}},
		{name: "a relay on two LANs", body: `{"mac":"00:1b:21:aa:bb:cc","subnet":"10.20.0.0/16"}`, lan: fakeLAN{ifs: []iface{lo, eth0, eth1}}, status: 200,
			want:     []string{"udp 10.20.255.255:9 via eth1", "ethernet 0x0842 via eth1"},
			wantSent: []string{"udp 10.20.0.7->10.20.255.255:9 on eth1: " + magic, "ethernet on eth1: " + magic}},
		{name: "raw Ethernet unsupported: UDP only", body: body, lan: fakeLAN{ifs: []iface{eth0}, ethErr: unsupported}, status: 200,
			want:     []string{"udp 192.168.1.255:9 via eth0"},
			wantSent: []string{"udp 192.168.1.5->192.168.1.255:9 on eth0: " + magic}},
		{name: "UDP failed: Ethernet only", body: body, lan: fakeLAN{ifs: []iface{eth0}, udpErr: sendErr}, status: 200,
			want:     []string{"ethernet 0x0842 via eth0"},
			wantSent: []string{"ethernet on eth0: " + magic}},
		{name: "nothing sent", body: body, lan: fakeLAN{ifs: []iface{eth0}, udpErr: sendErr, ethErr: sendErr},
			status: 500, code: wire.CodeInternal, msg: "could not be sent from eth0"},
		{name: "UDP failed, Ethernet unsupported", body: body, lan: fakeLAN{ifs: []iface{eth0}, udpErr: sendErr, ethErr: unsupported},
			status: 500, code: wire.CodeInternal, msg: "could not be sent"},
		{name: "not on the subnet", body: `{"mac":"00:1b:21:aa:bb:cc","subnet":"192.168.2.0/24"}`, lan: fakeLAN{ifs: []iface{lo, eth0, eth1}},
			status: 409, code: wire.CodeConflict, msg: "this agent is not on 192.168.2.0/24"},
		{name: "the same subnet on the overlay only", body: `{"mac":"00:1b:21:aa:bb:cc","subnet":"100.64.0.0/10"}`, lan: fakeLAN{ifs: []iface{tailscale0}},
			status: 409, code: wire.CodeConflict, msg: "not on 100.64.0.0/10"},
		{name: "interfaces unreadable", body: body, lan: fakeLAN{ifsErr: errors.New("netlink: boom")},
			status: 500, code: wire.CodeInternal, msg: "network interfaces"},
		{name: "GET", method: http.MethodGet, lan: fakeLAN{ifs: []iface{eth0}}, status: 405, code: wire.CodeBadRequest},
		{name: "empty body", body: "", status: 400, code: wire.CodeBadRequest, msg: "not a valid wake request"},
		{name: "not JSON", body: "mac=00:1b:21:aa:bb:cc", status: 400, code: wire.CodeBadRequest},
		{name: "unknown field", body: `{"mac":"00:1b:21:aa:bb:cc","subnet":"192.168.1.0/24","port":7}`, status: 400, code: wire.CodeBadRequest, msg: "unknown field"},
		{name: "trailing data", body: body + `{}`, status: 400, code: wire.CodeBadRequest, msg: "data after"},
		{name: "trailing whitespace is fine", body: body + "\n", lan: fakeLAN{ifs: []iface{eth0}}, status: 200,
			want:     []string{"udp 192.168.1.255:9 via eth0", "ethernet 0x0842 via eth0"},
			wantSent: []string{"udp 192.168.1.5->192.168.1.255:9 on eth0: " + magic, "ethernet on eth0: " + magic}},
		{name: "too large", body: `{"mac":"` + strings.Repeat("0", wire.MaxRequestBody) + `"}`, status: 400, code: wire.CodeBadRequest, msg: "too large"},
		{name: "no MAC", body: `{"subnet":"192.168.1.0/24"}`, status: 400, code: wire.CodeBadRequest, msg: "not a hardware address"},
		{name: "bad MAC", body: `{"mac":"00:1b:21:aa:bb","subnet":"192.168.1.0/24"}`, status: 400, code: wire.CodeBadRequest, msg: "not a hardware address"},
		{name: "EUI-64", body: `{"mac":"00:1b:21:aa:bb:cc:dd:ee","subnet":"192.168.1.0/24"}`, status: 400, code: wire.CodeBadRequest, msg: "6-byte"},
		{name: "broadcast MAC", body: `{"mac":"ff:ff:ff:ff:ff:ff","subnet":"192.168.1.0/24"}`, status: 400, code: wire.CodeBadRequest, msg: "group"},
		{name: "multicast MAC", body: `{"mac":"01:00:5e:00:00:fb","subnet":"192.168.1.0/24"}`, status: 400, code: wire.CodeBadRequest, msg: "group"},
		{name: "zero MAC", body: `{"mac":"00:00:00:00:00:00","subnet":"192.168.1.0/24"}`, status: 400, code: wire.CodeBadRequest, msg: "not a machine's"},
		{name: "no subnet", body: `{"mac":"00:1b:21:aa:bb:cc"}`, status: 400, code: wire.CodeBadRequest, msg: "not an IPv4 CIDR"},
		{name: "address, not CIDR", body: `{"mac":"00:1b:21:aa:bb:cc","subnet":"192.168.1.0"}`, status: 400, code: wire.CodeBadRequest, msg: "not an IPv4 CIDR"},
		{name: "IPv6 subnet", body: `{"mac":"00:1b:21:aa:bb:cc","subnet":"fd00::/64"}`, status: 400, code: wire.CodeBadRequest, msg: "not an IPv4 CIDR"},
		{name: "host bits set", body: `{"mac":"00:1b:21:aa:bb:cc","subnet":"192.168.1.5/24"}`, status: 400, code: wire.CodeBadRequest, msg: "did you mean 192.168.1.0/24"},
		{name: "/31", body: `{"mac":"00:1b:21:aa:bb:cc","subnet":"192.168.1.4/31"}`, status: 400, code: wire.CodeBadRequest, msg: "not a LAN"},
		{name: "everything", body: `{"mac":"00:1b:21:aa:bb:cc","subnet":"0.0.0.0/0"}`, status: 400, code: wire.CodeBadRequest, msg: "not a LAN"},
		{name: "loopback", body: `{"mac":"00:1b:21:aa:bb:cc","subnet":"127.0.0.0/8"}`, status: 400, code: wire.CodeBadRequest, msg: "not a LAN"},
		{name: "multicast subnet", body: `{"mac":"00:1b:21:aa:bb:cc","subnet":"224.0.0.0/24"}`, status: 400, code: wire.CodeBadRequest, msg: "not a LAN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lan := tc.lan
			h := Handler{lan: &lan}
			method := http.MethodPost
			if tc.method != "" {
				method = tc.method
			}
			r := httptest.NewRequest(method, wire.PeerPathWake, strings.NewReader(tc.body))
			w := httptest.NewRecorder()
			h.ServePeer(w, r, gate.Caller{Technician: "alice"})

			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tc.status, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if d := cmp.Diff(tc.wantSent, lan.sent); d != "" {
				t.Errorf("sent (-want +got):\n%s", d)
			}
			if tc.status != 200 {
				var e wire.Error
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
					t.Fatalf("error body %q: %v", w.Body, err)
				}
				if e.Code != tc.code || !strings.Contains(e.Message, tc.msg) {
					t.Errorf("error = %+v, want code %q and a message containing %q", e, tc.code, tc.msg)
				}
				return
			}
			var res wire.WakeResult
			dec := json.NewDecoder(w.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&res); err != nil {
				t.Fatalf("result %q: %v", w.Body, err)
			}
			if d := cmp.Diff(tc.want, res.Sent); d != "" {
				t.Errorf("WakeResult.Sent (-want +got):\n%s", d)
			}
		})
	}
}

func TestCapability(t *testing.T) {
	var h gate.Handler = Handler{}
	if got := h.Capability(); got != wire.CapWake {
		t.Errorf("Capability = %q, want %q", got, wire.CapWake)
	}
}

// FuzzDecodeRequest posts arbitrary bodies to decodeRequest, in memory: it
// never panics; what it refuses it refuses with a message for the caller;
// what it accepts is one WakeRequest whose MAC is a machine's (unicast,
// EUI-48, not zero) and whose subnet is a canonical IPv4 LAN prefix (/8 to
// /30, not loopback or multicast), and it accepts their canonical forms
// back as the same address and subnet.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"mac":"00:1B:21:AA:BB:CC","subnet":"192.168.1.0/24"}`,
		`{"mac":"00-1b-21-aa-bb-cc","subnet":"10.0.0.0/8"}`,
		`{"mac":"001b.21aa.bbcc","subnet":"169.254.0.0/16"}`,
		`{"mac":"01:00:5e:00:00:01","subnet":"192.168.1.0/24"}`,
		`{"mac":"00:00:00:00:00:00","subnet":"192.168.1.0/24"}`,
		`{"mac":"00:1b:21:aa:bb:cc:dd:ee","subnet":"192.168.1.0/24"}`,
		`{"mac":"00:1b:21:aa:bb:cc","subnet":"192.168.1.1/24"}`,
		`{"mac":"00:1b:21:aa:bb:cc","subnet":"127.0.0.0/8"}`,
		`{"mac":"00:1b:21:aa:bb:cc","subnet":"224.0.0.0/8"}`,
		`{"mac":"00:1b:21:aa:bb:cc","subnet":"192.168.1.0/31"}`,
		`{"mac":"00:1b:21:aa:bb:cc","subnet":"::ffff:192.168.1.0/120"}`,
		`{"mac":"00:1b:21:aa:bb:cc","subnet":"fe80::/64"}`,
		`{"mac":"00:1b:21:aa:bb:cc","subnet":"192.168.1.0/24","extra":1}`,
		`{"mac":"00:1b:21:aa:bb:cc"} {}`, `{}`, `null`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		mac, subnet, err := decodeRequest(httptest.NewRecorder(),
			httptest.NewRequest(http.MethodPost, wire.PeerPathWake, strings.NewReader(string(body))))
		if err != nil {
			if _, ok := errors.AsType[*requestError](err); !ok || userMessage(err) == "" {
				t.Fatalf("refusal %v has no message for the caller", err)
			}
			return
		}
		var req wire.WakeRequest
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			t.Fatalf("accepted %q, which is not a WakeRequest: %v", body, err)
		}
		if want, err := net.ParseMAC(req.MAC); err != nil || !slices.Equal(mac, want) {
			t.Fatalf("mac %q decoded as %v", req.MAC, mac)
		}
		if len(mac) != 6 || mac[0]&1 != 0 || [6]byte(mac) == [6]byte{} {
			t.Fatalf("accepted mac %v, not a machine's", mac)
		}
		a := subnet.Addr()
		if !a.Is4() || subnet.Masked() != subnet || subnet.Bits() < 8 || subnet.Bits() > 30 ||
			a.IsLoopback() || a.IsMulticast() || !a.IsGlobalUnicast() && !a.IsLinkLocalUnicast() {
			t.Fatalf("accepted subnet %v, not a LAN", subnet)
		}
		mac2, subnet2, err := validate(wire.WakeRequest{MAC: mac.String(), Subnet: subnet.String()})
		if err != nil || !slices.Equal(mac2, mac) || subnet2 != subnet {
			t.Fatalf("canonical %v %v read back as %v %v, %v", mac, subnet, mac2, subnet2, err)
		}
	})
}
