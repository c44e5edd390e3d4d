package sessionhelper

import (
	"bufio"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"net/rpc"
	"slices"
	"sync"

	"github.com/peerdesk/peerdesk/agent/screen"
)

// The desk's net/rpc codec: net/rpc's own gob codec, except that a
// frame's pixels travel after the gob-encoded body as raw bytes and are
// read straight into the caller's buffer. Through gob, every message is
// first read into a buffer of its own (8.3 MB at 1920x1080, garbage after
// each frame) and then copied into the reply: BenchmarkRemoteNext showed
// 8.5 MB allocated per frame.
//
// Every response is: gob(rpc.Response) gob(body) uint32le(n) n raw bytes.
// n is 0 for every body but a frame with pixels, and is written for all of
// them, so a reader that discards a body (net/rpc passes nil) stays in
// step without knowing its type.

// maxRaw bounds a frame's pixels: 16384 x 16384 BGRA.
const maxRaw = 16384 * 16384 * 4

// pixOf returns the pixels of a frame-bearing body and the body to encode
// without them; other bodies come back unchanged.
func pixOf(body any) ([]byte, any) {
	switch b := body.(type) {
	case *NextReply:
		if len(b.Frame.Pix) > 0 {
			c := *b
			c.Frame.Pix = nil
			return b.Frame.Pix, &c
		}
	case *screen.Frame:
		if len(b.Pix) > 0 {
			c := *b
			c.Pix = nil
			return b.Pix, &c
		}
	}
	return nil, body
}

// pixField returns where a frame-bearing reply's pixels go, nil for other
// replies (and for nil: a discarded body).
func pixField(body any) *[]byte {
	switch b := body.(type) {
	case *NextReply:
		return &b.Frame.Pix
	case *screen.Frame:
		return &b.Pix
	}
	return nil
}

type serverCodec struct {
	rwc    io.ReadWriteCloser
	dec    *gob.Decoder
	enc    *gob.Encoder
	w      *bufio.Writer
	closed bool
}

func newServerCodec(conn io.ReadWriteCloser) *serverCodec {
	w := bufio.NewWriterSize(conn, 64<<10)
	return &serverCodec{rwc: conn, dec: gob.NewDecoder(bufio.NewReader(conn)), enc: gob.NewEncoder(w), w: w}
}

func (c *serverCodec) ReadRequestHeader(r *rpc.Request) error { return c.dec.Decode(r) }

func (c *serverCodec) ReadRequestBody(body any) error { return c.dec.Decode(body) }

func (c *serverCodec) WriteResponse(r *rpc.Response, body any) error {
	pix, body := pixOf(body)
	err := c.enc.Encode(r)
	if err == nil {
		err = c.enc.Encode(body)
	}
	if err == nil {
		err = writeRaw(c.w, pix)
	}
	if err == nil {
		err = c.w.Flush()
	}
	if err != nil {
		// As net/rpc's gob codec: a response that cannot be written
		// leaves the stream out of step, so the connection ends.
		c.Close()
	}
	return err
}

func (c *serverCodec) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	return c.rwc.Close()
}

func writeRaw(w io.Writer, pix []byte) error {
	if len(pix) > maxRaw {
		return fmt.Errorf("sessionhelper: a frame of %d bytes is over %d", len(pix), maxRaw)
	}
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(pix)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err := w.Write(pix)
	return err
}

type clientCodec struct {
	rwc io.ReadWriteCloser
	r   *bufio.Reader // gob reads through it and never past its message
	dec *gob.Decoder
	wmu sync.Mutex // net/rpc serialises writes itself; kept for Close
	enc *gob.Encoder
	w   *bufio.Writer
}

func newClientCodec(conn io.ReadWriteCloser) *clientCodec {
	r := bufio.NewReaderSize(conn, 64<<10)
	w := bufio.NewWriter(conn)
	return &clientCodec{rwc: conn, r: r, dec: gob.NewDecoder(r), enc: gob.NewEncoder(w), w: w}
}

func (c *clientCodec) WriteRequest(r *rpc.Request, body any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.enc.Encode(r); err != nil {
		return err
	}
	if err := c.enc.Encode(body); err != nil {
		return err
	}
	return c.w.Flush()
}

func (c *clientCodec) ReadResponseHeader(r *rpc.Response) error { return c.dec.Decode(r) }

// ReadResponseBody decodes body, then reads the raw pixels that follow
// every body into its frame's buffer (reused when large enough), or
// discards them.
func (c *clientCodec) ReadResponseBody(body any) error {
	if err := c.dec.Decode(body); err != nil {
		return err
	}
	return readRaw(c.r, pixField(body))
}

// readRaw reads a raw part from r into *dst (nil: discards it).
func readRaw(r io.Reader, dst *[]byte) error {
	var nb [4]byte
	if _, err := io.ReadFull(r, nb[:]); err != nil {
		return noEOF(err)
	}
	n := int(binary.LittleEndian.Uint32(nb[:]))
	if n > maxRaw {
		return fmt.Errorf("sessionhelper: a frame of %d bytes is over %d", n, maxRaw)
	}
	if dst == nil {
		if n == 0 {
			return nil
		}
		_, err := io.CopyN(io.Discard, r, int64(n))
		return noEOF(err)
	}
	// Grown as the bytes arrive, not from the announced length: a stream
	// cut short costs only what it sent.
	buf := (*dst)[:0]
	for len(buf) < n {
		chunk := min(n-len(buf), 4<<20)
		buf = slices.Grow(buf, chunk)
		m, err := io.ReadFull(r, buf[len(buf):len(buf)+chunk])
		buf = buf[:len(buf)+m]
		if err != nil {
			*dst = buf
			return noEOF(err)
		}
	}
	*dst = buf
	return nil
}

// noEOF: a stream that ends inside a response was cut short.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (c *clientCodec) Close() error { return c.rwc.Close() }
