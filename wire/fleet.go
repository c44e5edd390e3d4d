package wire

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Unattended fleet (issue 4): Wake-on-LAN through peer agents, power and
// Safe Mode, device metadata.

// Fleet capabilities.
const (
	CapWake  Capability = "wol"   // send a Wake-on-LAN packet for another machine on this LAN
	CapPower Capability = "power" // reboot, emergency reboot, Safe Mode / rescue boot
)

// Fleet peer call paths (served by agents on PeerPort over the overlay).
const (
	PeerPathWake  = "/v1/wol"   // POST WakeRequest → WakeResult; needs CapWake
	PeerPathPower = "/v1/power" // POST PowerRequest → PowerResult; needs CapPower
)

// WakeRequest asks a relay agent to wake a machine on its LAN.
type WakeRequest struct {
	MAC string `json:"mac"` // the sleeping machine's hardware address, aa:bb:cc:dd:ee:ff
	// Subnet is the sleeping machine's IPv4 subnet in CIDR form
	// ("192.168.1.0/24"); the relay sends to its broadcast address from
	// the interface on that subnet.
	Subnet string `json:"subnet"`
}

// WakeResult says how the magic packet went out.
type WakeResult struct {
	Sent []string `json:"sent"` // e.g. "udp 192.168.1.255:9 via eth0", "ethernet 0x0842 via eth0"
}

// PowerAction is what a technician asks of a machine's power state.
type PowerAction string

// Power actions. Safe Mode actions exist on Windows; rescue on Linux.
const (
	PowerReboot          PowerAction = "reboot"           // orderly reboot
	PowerRebootEmergency PowerAction = "reboot-emergency" // immediate, without closing programs; needs Confirm
	PowerSafeMinimal     PowerAction = "safe-minimal"     // Windows: Safe Mode
	PowerSafeNetwork     PowerAction = "safe-network"     // Windows: Safe Mode with Networking
	PowerSafeCommand     PowerAction = "safe-command"     // Windows: Safe Mode with Command Prompt
	PowerNormal          PowerAction = "normal"           // leave Safe Mode / rescue: clear the flag and reboot
	PowerRescue          PowerAction = "rescue"           // Linux: boot once into rescue.target
)

// PowerActions lists every action this protocol version defines.
var PowerActions = []PowerAction{PowerReboot, PowerRebootEmergency, PowerSafeMinimal, PowerSafeNetwork, PowerSafeCommand, PowerNormal, PowerRescue}

// Valid reports whether a is a defined action.
func (a PowerAction) Valid() bool {
	for _, k := range PowerActions {
		if a == k {
			return true
		}
	}
	return false
}

// PowerRequest asks an agent to change its machine's power state.
type PowerRequest struct {
	Action PowerAction `json:"action"`
	// Confirm must be true for PowerRebootEmergency (the technician
	// confirmed that unsaved work is lost).
	Confirm bool `json:"confirm,omitempty"`
	// KeepSafeMode keeps booting into Safe Mode after the next boot; by
	// default the agent clears the flag once it runs in Safe Mode, so the
	// boot after that is normal.
	KeepSafeMode bool `json:"keep_safe_mode,omitempty"`
}

// PowerResult lists what the agent did or will do, in order (commands and
// registry changes), for the technician and the audit log.
type PowerResult struct {
	Steps []string `json:"steps"`
}

// Metadata is how a shop files a machine (U4): set at install time,
// changeable with `peerdesk-agent reconfigure`, synced with the inventory.
type Metadata struct {
	Name       string `json:"name,omitempty"` // display name; the host name if empty
	Company    string `json:"company,omitempty"`
	Site       string `json:"site,omitempty"`
	Department string `json:"department,omitempty"`
	DeviceType string `json:"device_type,omitempty"` // workstation, laptop, server…
	Tag        string `json:"tag,omitempty"`
	// Custom are the shop's own fields (U5: asset number, cost centre…),
	// set with `peerdesk-agent enroll|reconfigure -custom name=value`. The
	// agent reports them as Inventory.Custom.
	Custom map[string]string `json:"custom,omitempty"`
}

// Bounds of Metadata: each field and custom field name, in bytes; a custom
// field's value; the number of custom fields.
const (
	MaxMetadataField = 64
	MaxCustomValue   = 4 * MaxMetadataField
	MaxCustomFields  = 32
)

// Check bounds m's fields: at most MaxMetadataField bytes of valid UTF-8
// each, no control characters.
func (m Metadata) Check() error {
	for _, f := range []struct{ name, v string }{{"name", m.Name}, {"company", m.Company}, {"site", m.Site},
		{"department", m.Department}, {"device type", m.DeviceType}, {"tag", m.Tag}} {
		if len(f.v) > MaxMetadataField || !utf8.ValidString(f.v) || strings.ContainsFunc(f.v, unicode.IsControl) {
			return fmt.Errorf("wire: metadata %s: at most %d bytes, no control characters", f.name, MaxMetadataField)
		}
	}
	return CheckCustom(m.Custom)
}

// CheckCustom bounds custom fields: at most MaxCustomFields, each name 1 to
// MaxMetadataField bytes and each value at most MaxCustomValue, valid UTF-8
// without control characters.
func CheckCustom(custom map[string]string) error {
	if len(custom) > MaxCustomFields {
		return fmt.Errorf("wire: %d custom fields, at most %d", len(custom), MaxCustomFields)
	}
	for k, v := range custom {
		if k == "" || len(k) > MaxMetadataField || len(v) > MaxCustomValue || !utf8.ValidString(k+v) ||
			strings.ContainsFunc(k+v, unicode.IsControl) || strings.Contains(k, "=") {
			return fmt.Errorf("wire: custom field %.*q: name 1..%d bytes without '=', value at most %d, no control characters",
				MaxMetadataField, k, MaxMetadataField, MaxCustomValue)
		}
	}
	return nil
}

// PathPresence is the agents' presence stream: a POST whose body never
// ends, one PresenceTick byte every PresenceEvery. The coordinator shows
// the agent online while bytes arrive and offline the moment the stream
// breaks or goes quiet for PresenceTimeout (a killed agent's connection
// closes at once; a cut cable stops the ticks).
const PathPresence = "/v1/agent/presence"

// Presence stream timing.
const (
	PresenceTick    = '.'
	PresenceEvery   = time.Second
	PresenceTimeout = 3 * time.Second
)

// PathWake asks the coordinator how to wake an offline machine: which
// online agent on its LAN relays the packet, with a grant for that relay's
// wol capability issued to the technician's node (technician).
const PathWake = "/v1/wake" // POST WakeAsk → WakePlan

// WakeAsk names the machine to wake and the technician's overlay node.
type WakeAsk struct {
	DeviceID string `json:"device_id"`
	NodeKey  string `json:"node_key"`
}

// WakePlan is what the technician's viewer sends, to whom.
type WakePlan struct {
	Relay   string        `json:"relay"`   // the relay's device id
	Grant   GrantResponse `json:"grant"`   // CapWake on the relay, with its overlay address
	Request WakeRequest   `json:"request"` // POST it to the relay's PeerPathWake
}
