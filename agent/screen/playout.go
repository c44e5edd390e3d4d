package screen

import (
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// playoutDelayURI is the RTP header extension with which a sender tells the
// receiver how long it may hold frames before showing them
// (https://webrtc.googlesource.com/src/+/main/docs/native-code/rtp-hdrext/playout-delay).
// A remote screen is interactive: the technician's click has to be seen at
// once, and a smooth but late picture is worse than a prompt one. With
// min = max = 0 Chrome renders each frame as soon as it is decoded instead
// of holding it in a jitter buffer sized for video calls.
const playoutDelayURI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"

// registerPlayoutDelay offers the extension for video and adds the
// interceptor that stamps it on every packet the session sends.
func registerPlayoutDelay(m *webrtc.MediaEngine, reg *interceptor.Registry) error {
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: playoutDelayURI}, webrtc.RTPCodecTypeVideo); err != nil {
		return err
	}
	reg.Add(playoutDelayFactory{})
	return nil
}

type playoutDelayFactory struct{}

func (playoutDelayFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &playoutDelay{}, nil
}

// playoutDelay writes PlayoutDelayExtension{0, 0} into every outgoing RTP
// packet of a stream whose negotiation accepted the extension; streams
// without it pass through untouched.
type playoutDelay struct {
	interceptor.NoOp
}

// zeroDelay is PlayoutDelayExtension{MinDelay: 0, MaxDelay: 0} marshalled.
var zeroDelay = func() []byte {
	b, err := rtp.PlayoutDelayExtension{}.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}()

func (*playoutDelay) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	id := playoutDelayID(info)
	if id == 0 {
		return w
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if err := h.SetExtension(id, zeroDelay); err != nil {
			return 0, err
		}
		return w.Write(h, payload, a)
	})
}

// playoutDelayID is the extension's negotiated ID for the stream, 0 if the
// other side did not accept it.
func playoutDelayID(info *interceptor.StreamInfo) uint8 {
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == playoutDelayURI && e.ID > 0 && e.ID < 256 {
			return uint8(e.ID)
		}
	}
	return 0
}
