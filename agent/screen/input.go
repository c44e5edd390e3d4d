package screen

import (
	"encoding/json"

	"github.com/peerdesk/peerdesk/wire"
	"github.com/pion/webrtc/v4"
)

// maxMessage bounds one data-channel message.
const maxMessage = 1024

func (s *session) onDataChannel(dc *webrtc.DataChannel) {
	switch dc.Label() {
	case wire.ChannelPointer:
		dc.OnMessage(func(m webrtc.DataChannelMessage) { s.onInput(m.Data, true) })
	case wire.ChannelInput:
		s.mu.Lock()
		s.control = dc
		s.mu.Unlock()
		dc.OnOpen(s.sendEncoder)
		dc.OnMessage(func(m webrtc.DataChannelMessage) { s.onInput(m.Data, false) })
	default:
		dc.Close() //nolint:errcheck // an unknown channel is refused
	}
}

// onInput applies one message from the browser. Malformed, oversized and
// (on a view-only session) input messages are dropped.
func (s *session) onInput(b []byte, pointer bool) {
	m, ok := parseMessage(b, pointer)
	if !ok {
		return
	}
	if m.control != nil {
		s.onControl(*m.control)
		return
	}
	s.mu.Lock()
	inj, origin := s.inject, s.origin
	s.mu.Unlock()
	if inj == nil || !s.lease.Allows(wire.CapInput) {
		return // view-only: input was not allowed (or the lease ended)
	}
	if err := inj.Apply(*m.input, origin); err != nil {
		s.h.cfg.Logger.Debug("input dropped", "type", m.input.Type, "err", err)
	}
}

// message is one data-channel message from the browser: a control message
// or an input event.
type message struct {
	control *wire.ControlMessage
	input   *wire.InputEvent
}

// parseMessage decodes one data-channel message, from the pointer channel
// if pointer is set. It refuses (ok is false) a message over maxMessage
// bytes, one that is not a JSON object of a known type, and anything but a
// move on the pointer channel, which is unreliable.
func parseMessage(b []byte, pointer bool) (m message, ok bool) {
	if len(b) > maxMessage {
		return message{}, false
	}
	var probe struct {
		T string `json:"t"`
	}
	if json.Unmarshal(b, &probe) != nil {
		return message{}, false
	}
	switch probe.T {
	case "monitor", "cad", "end":
		if pointer {
			return message{}, false
		}
		var c wire.ControlMessage
		if json.Unmarshal(b, &c) != nil {
			return message{}, false
		}
		return message{control: &c}, true
	case "move":
	case "button", "wheel", "key":
		if pointer {
			return message{}, false // only moves travel unreliably
		}
	default:
		return message{}, false
	}
	var ev wire.InputEvent
	if json.Unmarshal(b, &ev) != nil {
		return message{}, false
	}
	return message{input: &ev}, true
}

func (s *session) onControl(m wire.ControlMessage) {
	switch m.Type {
	case "monitor":
		s.monitor.Store(int64(m.Monitor))
		select {
		case s.monitorSet <- struct{}{}:
		default:
		}
	case "cad":
		s.mu.Lock()
		inj := s.inject
		s.mu.Unlock()
		if inj != nil && s.lease.Allows(wire.CapInput) {
			if err := inj.CtrlAltDel(); err != nil {
				s.h.cfg.Logger.Warn("Ctrl-Alt-Del failed", "err", err)
			}
		}
	case "end":
		go s.end("ended by the technician")
	}
}
