package node

import (
	"runtime"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/tailscale/wireguard-go/conn"
	"github.com/tailscale/wireguard-go/device"
	"github.com/tailscale/wireguard-go/tun/tuntest"
)

// TestMessageBuffersOutsideTheHeap: the patched wireguard-go
// (third_party/wireguard-go) takes its 64 KiB message buffers from
// anonymous mappings, not the Go heap, keeps them on a free list that a GC
// does not empty, and ReleasePools hands their pages back. With the
// upstream pool a bulk transfer grew a node by 100 MB and more
// (docs/BENCHMARKS.md).
func TestMessageBuffersOutsideTheHeap(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("on Windows the buffers are upstream's: 2 KiB on the heap (third_party/wireguard-go/device/msgbuf_heap.go)")
	}
	dev := device.NewDevice(tuntest.NewChannelTUN().TUN(), conn.NewStdNetBind(), device.NewLogger(device.LogLevelSilent, ""))
	defer dev.Close()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	bufs := make([]*[device.MaxMessageSize]byte, 200)
	for i := range bufs {
		bufs[i] = dev.GetMessageBuffer()
		bufs[i][0], bufs[i][device.MaxMessageSize-1] = 1, 1
	}
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 1<<20 {
		t.Errorf("200 message buffers grew the Go heap by %d bytes; want them outside it", grew)
	}

	for _, b := range bufs {
		dev.PutMessageBuffer(b)
	}
	runtime.GC()
	runtime.GC()
	b := dev.GetMessageBuffer()
	if !slices.Contains(bufs, b) {
		t.Fatal("after a GC the pool allocated a new buffer; want one from its free list")
	}

	const mid = device.MaxMessageSize / 2 // on a whole page of the buffer
	b[mid] = 7
	dev.PutMessageBuffer(b)
	device.ReleasePools()
	b2 := dev.GetMessageBuffer()
	if b2 != b {
		t.Fatal("ReleasePools dropped the free buffer; want it kept, its pages handed back")
	}
	if b2[mid] != 0 {
		t.Errorf("after ReleasePools the buffer still holds %d; want its pages handed back (zero)", b2[mid])
	}
	dev.PutMessageBuffer(b2)
}

// TestWaitPoolBound: a bounded pool hands out at most its bound; the next
// Get waits for a Put and gets what was put.
func TestWaitPoolBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := device.NewWaitPool(2, func() any { return new(int) })
		a, b := p.Get(), p.Get()
		got := make(chan any)
		go func() { got <- p.Get() }()
		synctest.Wait()
		select {
		case <-got:
			t.Fatal("a third Get returned with two of a bound of two out")
		default:
		}
		p.Put(a)
		if x := <-got; x != a {
			t.Errorf("Get after Put returned %p; want the object put, %p", x, a)
		}
		p.Put(b)
	})
}
