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
		dc.OnMessage(func(m webrtc.DataChannelMessage) { s.onInput(m.Data, false) })
	default:
		dc.Close() //nolint:errcheck // an unknown channel is refused
	}
}

// onInput applies one message from the browser. Malformed, oversized and
// (on a view-only session) input messages are dropped.
func (s *session) onInput(b []byte, pointer bool) {
	if len(b) > maxMessage {
		return
	}
	var probe struct {
		T string `json:"t"`
	}
	if json.Unmarshal(b, &probe) != nil {
		return
	}
	switch probe.T {
	case "monitor", "cad", "end":
		if pointer {
			return
		}
		var m wire.ControlMessage
		if json.Unmarshal(b, &m) != nil {
			return
		}
		s.onControl(m)
		return
	case "move":
	case "button", "wheel", "key":
		if pointer {
			return // only moves travel unreliably
		}
	default:
		return
	}
	var ev wire.InputEvent
	if json.Unmarshal(b, &ev) != nil {
		return
	}
	s.mu.Lock()
	inj, origin := s.inject, s.origin
	s.mu.Unlock()
	if inj == nil {
		return // view-only
	}
	if err := inj.Apply(ev, origin); err != nil {
		s.h.cfg.Logger.Debug("input dropped", "type", ev.Type, "err", err)
	}
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
		if inj != nil {
			if err := inj.CtrlAltDel(); err != nil {
				s.h.cfg.Logger.Warn("Ctrl-Alt-Del failed", "err", err)
			}
		}
	case "end":
		go s.end("ended by the technician")
	}
}
