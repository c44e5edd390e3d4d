/* SPDX-License-Identifier: MIT
 *
 * Copyright (C) 2017-2023 WireGuard LLC. All Rights Reserved.
 */

package device

import (
	"sync"
)

// WaitPool hands out pooled objects. With max != 0 (peerdesk) at most max
// are out at once (Get waits for a Put) and the objects put back are kept
// on a free list that the garbage collector does not empty, unlike a
// sync.Pool: a 64 KiB message buffer is then allocated once and reused,
// not allocated and zeroed again after every GC (which made every buffer's
// pages resident and the heap grow with the garbage). ReleasePools drops
// the free lists, for an idle process to hand the memory back.
type WaitPool struct {
	pool sync.Pool
	new  func() any
	cond sync.Cond
	lock sync.Mutex
	free []any
	// release, when set, hands an object's memory back to the system
	// but keeps it usable (ReleasePools keeps it on the free list).
	release func(any)
	count   uint32 // Get calls not yet Put back
	max     uint32
}

var (
	poolsMu sync.Mutex
	pools   = map[*WaitPool]struct{}{}
)

func NewWaitPool(max uint32, new func() any) *WaitPool {
	p := &WaitPool{pool: sync.Pool{New: new}, new: new, max: max}
	p.cond = sync.Cond{L: &p.lock}
	if max != 0 {
		poolsMu.Lock()
		pools[p] = struct{}{}
		poolsMu.Unlock()
	}
	return p
}

// ReleasePools drops the objects kept on every bounded pool's free list,
// or hands their pages back to the system where they are allocated outside
// the Go heap (peerdesk): what is out stays out.
func ReleasePools() {
	poolsMu.Lock()
	defer poolsMu.Unlock()
	for p := range pools {
		p.lock.Lock()
		if p.release != nil {
			for _, x := range p.free {
				p.release(x)
			}
		} else {
			clear(p.free)
			p.free = p.free[:0:0]
		}
		p.lock.Unlock()
	}
}

func (p *WaitPool) Get() any {
	if p.max == 0 {
		return p.pool.Get()
	}
	p.lock.Lock()
	for p.count >= p.max {
		p.cond.Wait()
	}
	p.count++
	var x any
	if n := len(p.free); n > 0 {
		x = p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
	}
	p.lock.Unlock()
	if x == nil {
		x = p.new()
	}
	return x
}

func (p *WaitPool) Put(x any) {
	if p.max == 0 {
		p.pool.Put(x)
		return
	}
	p.lock.Lock()
	defer p.lock.Unlock()
	p.free = append(p.free, x)
	p.count--
	p.cond.Signal()
}

func (device *Device) PopulatePools() {
	device.pool.inboundElementsContainer = NewWaitPool(PreallocatedBuffersPerPool, func() any {
		s := make([]*QueueInboundElement, 0, device.BatchSize())
		return &QueueInboundElementsContainer{elems: s}
	})
	device.pool.outboundElementsContainer = NewWaitPool(PreallocatedBuffersPerPool, func() any {
		s := make([]*QueueOutboundElement, 0, device.BatchSize())
		return &QueueOutboundElementsContainer{elems: s}
	})
	device.pool.messageBuffers = NewWaitPool(PreallocatedBuffersPerPool, func() any {
		return newMessageBuffer()
	})
	device.pool.messageBuffers.release = releaseMessageBuffer
	device.pool.inboundElements = NewWaitPool(PreallocatedBuffersPerPool, func() any {
		return new(QueueInboundElement)
	})
	device.pool.outboundElements = NewWaitPool(PreallocatedBuffersPerPool, func() any {
		return new(QueueOutboundElement)
	})
}

func (device *Device) GetInboundElementsContainer() *QueueInboundElementsContainer {
	c := device.pool.inboundElementsContainer.Get().(*QueueInboundElementsContainer)
	return c
}

func (device *Device) PutInboundElementsContainer(c *QueueInboundElementsContainer) {
	for i := range c.elems {
		c.elems[i] = nil
	}
	c.elems = c.elems[:0]
	device.pool.inboundElementsContainer.Put(c)
}

func (device *Device) GetOutboundElementsContainer() *QueueOutboundElementsContainer {
	c := device.pool.outboundElementsContainer.Get().(*QueueOutboundElementsContainer)
	return c
}

func (device *Device) PutOutboundElementsContainer(c *QueueOutboundElementsContainer) {
	for i := range c.elems {
		c.elems[i] = nil
	}
	c.elems = c.elems[:0]
	device.pool.outboundElementsContainer.Put(c)
}

func (device *Device) GetMessageBuffer() *[MaxMessageSize]byte {
	return device.pool.messageBuffers.Get().(*[MaxMessageSize]byte)
}

func (device *Device) PutMessageBuffer(msg *[MaxMessageSize]byte) {
	device.pool.messageBuffers.Put(msg)
}

func (device *Device) GetInboundElement() *QueueInboundElement {
	return device.pool.inboundElements.Get().(*QueueInboundElement)
}

func (device *Device) PutInboundElement(elem *QueueInboundElement) {
	elem.clearPointers()
	device.pool.inboundElements.Put(elem)
}

func (device *Device) GetOutboundElement() *QueueOutboundElement {
	return device.pool.outboundElements.Get().(*QueueOutboundElement)
}

func (device *Device) PutOutboundElement(elem *QueueOutboundElement) {
	elem.clearPointers()
	device.pool.outboundElements.Put(elem)
}
