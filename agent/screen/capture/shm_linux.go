package capture

import (
	"errors"
	"fmt"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/shm"
	"github.com/jezek/xgb/xproto"
	"golang.org/x/sys/unix"
)

// pixbuf holds the pixels of the selected area and reads parts of the
// root window into it.
type pixbuf interface {
	pix() []byte
	// read copies the w x h rectangle of the root window at (x, y), in
	// ZPixmap format (w*4 bytes per row), to pix()[off:].
	read(x, y, w, h, off int) error
	// close releases the buffer; server says whether the X connection is
	// still there to release the server's side.
	close(server bool) error
}

// shmBuf is a System V shared-memory segment attached by both this process
// and the X server, which writes images straight into it (MIT-SHM).
type shmBuf struct {
	conn *xgb.Conn
	root xproto.Window
	seg  shm.Seg
	id   int
	data []byte
}

// newShmBuf creates a private segment of size bytes, attaches it here,
// marks it for removal at once (so it goes away when both sides detach,
// even if this process is killed) and has the server attach it. Linux
// lets the server attach a segment already marked for removal.
func newShmBuf(conn *xgb.Conn, root xproto.Window, size int) (_ *shmBuf, err error) {
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, size, unix.IPC_CREAT|0o600)
	if err != nil {
		return nil, fmt.Errorf("shmget %d bytes: %w", size, err)
	}
	data, err := unix.SysvShmAttach(id, 0, 0)
	// Mark it for removal whether or not the attach worked.
	_, rmErr := unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	if err != nil {
		return nil, fmt.Errorf("shmat: %w", errors.Join(err, rmErr))
	}
	if rmErr != nil {
		return nil, fmt.Errorf("marking the segment for removal: %w", errors.Join(rmErr, unix.SysvShmDetach(data)))
	}
	b := &shmBuf{conn: conn, root: root, id: id, data: data}
	defer func() {
		if err != nil {
			err = errors.Join(err, unix.SysvShmDetach(data))
		}
	}()
	if b.seg, err = shm.NewSegId(conn); err != nil {
		return nil, err
	}
	if err := shm.AttachChecked(conn, b.seg, uint32(id), false).Check(); err != nil {
		return nil, fmt.Errorf("MIT-SHM Attach: %w", err)
	}
	return b, nil
}

func (b *shmBuf) pix() []byte { return b.data }

func (b *shmBuf) read(x, y, w, h, off int) error {
	r, err := shm.GetImage(b.conn, xproto.Drawable(b.root), int16(x), int16(y), uint16(w), uint16(h),
		^uint32(0), xproto.ImageFormatZPixmap, b.seg, uint32(off)).Reply()
	if err != nil {
		return fmt.Errorf("MIT-SHM GetImage: %w", err)
	}
	if int(r.Size) != w*h*4 {
		return fmt.Errorf("MIT-SHM GetImage: %d bytes for %dx%d pixels", r.Size, w, h)
	}
	return nil
}

func (b *shmBuf) close(server bool) error {
	var err error
	if server {
		err = shm.DetachChecked(b.conn, b.seg).Check()
	}
	err = errors.Join(err, unix.SysvShmDetach(b.data))
	b.data = nil
	return err
}

// sockBuf reads through the X socket: each read is a GetImage reply copied
// into data.
type sockBuf struct {
	conn *xgb.Conn
	root xproto.Window
	data []byte
}

func (b *sockBuf) pix() []byte { return b.data }

func (b *sockBuf) read(x, y, w, h, off int) error {
	r, err := xproto.GetImage(b.conn, xproto.ImageFormatZPixmap, xproto.Drawable(b.root),
		int16(x), int16(y), uint16(w), uint16(h), ^uint32(0)).Reply()
	if err != nil {
		return fmt.Errorf("GetImage: %w", err)
	}
	if len(r.Data) < w*h*4 {
		return fmt.Errorf("GetImage: %d bytes for %dx%d pixels", len(r.Data), w, h)
	}
	copy(b.data[off:off+w*h*4], r.Data)
	return nil
}

func (b *sockBuf) close(bool) error { return nil }
