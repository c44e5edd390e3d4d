// Package h264 is the encoder of the screen pipeline: BGRA frames from the
// capturer in, H.264 access units for WebRTC out.
//
// # Overview
//
// An Encoder converts each frame to I420 with libyuv's ARGBToI420 (libyuv's
// "ARGB" is B, G, R, A in memory on little-endian machines: exactly the BGRA
// that X11 and Windows capture deliver) into one reused buffer, and encodes
// it with OpenH264 as H.264 Constrained Baseline (profile_idc 66 with
// constraint_set1, CAVLC) for real time: no B-frames, no lookahead, one
// slice, every frame returned by the call that submitted it. The result is
// one access unit of Annex-B NAL units (00 00 00 01 start codes), ready for
// pion's TrackLocalStaticSample:
//
//	enc, err := h264.NewEncoder(h264.Options{Width: 1920, Height: 1080, FPS: 30, Bitrate: 4_000_000})
//	...
//	au, err := enc.Encode(frame.Pix, frame.Stride, wantKeyframe.Swap(false))
//	if err == nil && len(au) > 0 {
//		err = track.WriteSample(media.Sample{Data: au, Duration: sinceLastSample})
//	}
//
// An empty result with a nil error is a frame the rate controller dropped:
// write nothing, and let the next sample's Duration cover the gap. Keyframe
// requests from the viewer (RTCP PLI or FIR, read with RTPSender.ReadRTCP)
// become keyframe=true on the next Encode. OpenH264 sends a forced IDR even
// when it is over budget, and a 1080p screen of text makes an IDR of about
// 200 KB (five seconds of a 300 kbit/s link), so rate-limit requests, say to
// one a second; should a forced IDR be dropped anyway, the next call forces
// it again. Each IDR carries SPS and PPS
// (constant ids), so a viewer needs nothing else to start decoding.
//
// # Encoder settings
//
// The choices match libwebrtc's OpenH264 screenshare configuration and were
// checked against camera mode and multi-threading in this package's tests
// and benchmarks:
//
//   - SCREEN_CONTENT_REAL_TIME: scroll detection and feature-based motion
//     search, and a rate controller that keeps QP within 26..35 (IDR 26..32),
//     so text stays legible; when bits run short it drops frames instead of
//     blurring, and an unchanged area costs skipped macroblocks. With the
//     same 4 Mbit/s target, typing cost about 0.1 KB a frame and scrolling
//     about 0.7 Mbit/s, where camera mode spent 2.3 to 4 Mbit/s whatever the
//     content and kept almost no frames when scrolling at 1 Mbit/s.
//     After an IDR (QP about 32) the controller refines a static picture for
//     about a second, in bits it would otherwise not use, then sends P-frames
//     of a few dozen bytes. A capturer that sends only on damage should
//     therefore repeat its last frame for a second or so after the screen
//     stops changing (until Encode returns under a hundred bytes), or the
//     viewer keeps the unrefined picture.
//   - RC_BITRATE_MODE with frame skipping: its leaky bucket drains by the
//     time between frames, so Encode stamps frames with the monotonic clock.
//     A capturer that sends only on damage therefore gets the whole budget
//     for the frames it does send. An IDR may take up to two seconds of
//     budget, which is why it is followed by dropped frames on a slow link.
//   - iMaxBitrate equals the target: for screen content OpenH264 uses it only
//     as a cap on the target. SetBitrate moves both, in the order OpenH264's
//     checks need.
//   - One thread, one slice: OpenH264's screen analysis and motion-search
//     preparation are serial and take most of the time, so on two cores two
//     threads with two or four slices saved at most 6 % of it (within
//     run-to-run noise) and cost 4 to 50 % more bytes. The second core is better spent capturing the next
//     frame.
//   - uiIntraPeriod is Options.KeyInterval; the level is chosen by OpenH264
//     from size, rate and bitrate (4.0 for 1080p30 up to 24 Mbit/s).
//   - Denoising off (it smears text); adaptive quantisation and background
//     detection off (unsupported for screen content, OpenH264 would turn them
//     off itself); scene-change detection on (required).
//
// OpenH264's log goes nowhere: errors it reports are kept and added to the
// error the failing call returns.
//
// # Threading
//
// Encode and Close serialise on a mutex: frames are ordered, so one
// goroutine should call Encode; Close may come from any goroutine, waits
// for an Encode in progress, is idempotent, and makes later calls fail with
// ErrClosed. SetBitrate may be called from any goroutine (a congestion
// controller's, say): it never waits for encoding and takes effect on the
// next frame. OpenH264 starts no threads of its own in this configuration.
// Encode reads pix only during the call and returns a new slice the caller
// owns; the I420 picture and OpenH264's output live in C memory that Close
// frees (a garbage-collection cleanup frees it if Close is forgotten).
//
// # Licences and platforms
//
// OpenH264 (BSD-2-Clause) and libyuv (BSD-3-Clause) are linked dynamically
// from the system: Debian's libopenh264-dev and libyuv-dev, found through
// pkg-config openh264 and -lyuv. libx264 is GPL and must not be used. Cisco's
// H.264 patent licence covers only the OpenH264 binaries Cisco distributes,
// not builds from source such as Debian's; shipping either is a product
// decision this package does not make.
//
// Builds with cgo on Linux or macOS link OpenH264 and libyuv. Builds
// without cgo — the Windows agent, cross-compiled with CGO_ENABLED=0 —
// load OpenH264 at run time instead (internal/wels: LoadLibrary or dlopen,
// calls through its C function table, no cgo) and convert colours in Go
// (convert.go, libyuv's arithmetic to the bit). On Windows the library is
// Cisco's openh264-2.3.1-win64.dll next to the agent (PEERDESK_OPENH264
// names another path); Cisco's patent licence covers that binary when the
// machine downloads it from Cisco, so the shop installs it, peerdesk does
// not ship it. Without it NewEncoder fails with an error wrapping
// ErrUnsupported and the screen capability reports the encoder missing.
// The run-time backend is tested on Linux against Debian's
// libopenh264.so.7, which must produce the same bytes as the cgo build. The
// noopenh264 tag builds no encoder at all.
//
// # Choosing the implementation
//
// NewEncoder picks the implementation at run time (choose, a pure
// function): Media Foundation's H.264 encoder first where the platform has
// one (Windows), OpenH264 as the fallback. [Encoder.Choice] says which runs
// and why each preferred one was passed over ("OpenH264 2.3.1 (not Media
// Foundation: no H.264 encoder is registered)"); the screen session sends
// it to the technician's viewer, which shows it in its stats. On Windows
// the Media Foundation side is only a probe so far (mf_windows.go:
// MFTEnumEx for H.264 encoder transforms): this build has no Media
// Foundation encoder, so a Windows machine that has the transform still
// encodes with OpenH264, and says so. Under Wine 8.0 the probe finds no
// H.264 encoder transform (it finds Wine's H.264 decoder, the probe's
// control), and the stream comes from OpenH264's DLL built from Debian's
// source (the Windows lane: internal/winelane decodes it on Linux).
package h264
