// Package h264 is the encoder of the screen pipeline: BGRA frames from the
// capturer in, H.264 access units for WebRTC out.
package h264
