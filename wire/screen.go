package wire

// Screen-session capabilities.
const (
	CapScreen Capability = "screen" // watch the screen
	CapInput  Capability = "input"  // drive mouse and keyboard
)

// Peer paths of a screen session.
const (
	PeerPathScreenOffer = "/v1/screen/offer" // POST ScreenOffer → ScreenAnswer; needs CapScreen
	PeerPathScreenEnd   = "/v1/screen/end"   // POST: end the session; needs CapScreen
)

// The technician's TURN relay allocates its overlay sockets in this port
// range; the overlay ACL lets agents answer technicians on these ports and
// nowhere else. (tsnet's own UDP sockets are not connection-tracked by the
// overlay's packet filter, so replies need a rule.)
const (
	RelayPortMin = 40000
	RelayPortMax = 40999
)

// Data-channel labels. Mouse moves go on an unordered channel without
// retransmission (a late move is useless); clicks, keys and control
// messages on an ordered, reliable one.
const (
	ChannelPointer = "pointer" // InputEvent{Type: "move"} only
	ChannelInput   = "input"   // every other InputEvent and ControlMessage
)

// ScreenOffer is the browser's SDP offer, forwarded by the viewer.
type ScreenOffer struct {
	SDP     string `json:"sdp"`
	Monitor int    `json:"monitor"` // index into the agent's monitors; -1 means all
}

// ScreenAnswer is the agent's SDP answer.
type ScreenAnswer struct {
	SDP      string    `json:"sdp"`
	Monitors []Monitor `json:"monitors"`
	// Allowed is what the session may do, as the end user allowed it
	// (CapScreen, and CapInput unless the session is view-only); added
	// 2026-12-07, absent from older agents.
	Allowed []Capability `json:"allowed,omitempty"`
}

// Monitor is one display of the agent's machine.
type Monitor struct {
	Index   int    `json:"index"`
	Name    string `json:"name"`
	X       int    `json:"x"`
	Y       int    `json:"y"`
	Width   int    `json:"width"`
	Height  int    `json:"height"`
	Primary bool   `json:"primary"`
}

// InputEvent is one mouse or keyboard event from the technician's browser.
// Coordinates are pixels of the monitor being shown, from its top-left.
type InputEvent struct {
	Type   string `json:"t"`           // "move", "button", "wheel", "key"
	X      int    `json:"x,omitempty"` // move, button
	Y      int    `json:"y,omitempty"`
	Button int    `json:"b,omitempty"` // button: 0 left, 1 middle, 2 right (DOM MouseEvent.button)
	Down   bool   `json:"d,omitempty"` // button, key: pressed (true) or released
	DX     int    `json:"dx,omitempty"`
	DY     int    `json:"dy,omitempty"` // wheel: DOM deltaY sign, in notches
	Code   string `json:"c,omitempty"`  // key: DOM KeyboardEvent.code, e.g. "KeyA", "Enter"
}

// ControlMessage travels on ChannelInput, in either direction.
type ControlMessage struct {
	Type    string `json:"t"`                // "monitor", "cad", "end", "ended", "encoder"
	Monitor int    `json:"monitor"`          // monitor: switch to this index
	Reason  string `json:"reason,omitempty"` // ended: why
	// Encoder (agent to browser, type "encoder"; added 2026-12-07, absent
	// from older agents): the H.264 encoder the session's stream runs on
	// and why any preferred one was passed over, for the session's stats,
	// e.g. "OpenH264 2.3.1 (not Media Foundation: no H.264 encoder is
	// registered)". Sent when the channel opens and whenever the encoder
	// is made anew.
	Encoder string `json:"encoder,omitempty"`
}
