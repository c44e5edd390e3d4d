package logs

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/peerdesk/peerdesk/wire"
)

var (
	wevtapi                  = windows.NewLazySystemDLL("wevtapi.dll")
	procEvtQuery             = wevtapi.NewProc("EvtQuery")
	procEvtNext              = wevtapi.NewProc("EvtNext")
	procEvtRender            = wevtapi.NewProc("EvtRender")
	procEvtClose             = wevtapi.NewProc("EvtClose")
	procEvtFormatMessage     = wevtapi.NewProc("EvtFormatMessage")
	procEvtOpenPublisherMeta = wevtapi.NewProc("EvtOpenPublisherMetadata")
)

const (
	evtQueryChannelPath      = 0x1
	evtQueryReverseDirection = 0x200
	evtQueryTolerateErrors   = 0x1000
	evtRenderEventXML        = 1
	evtFormatMessageEvent    = 1
	errorNoMoreItems         = windows.Errno(259)
	errorInsufficientBuffer  = windows.ERROR_INSUFFICIENT_BUFFER
	evtNextBatch             = 64
	evtNextTimeoutMillis     = 5000
	maxPublishersCached      = 256
)

type evtHandle uintptr

func evtClose(h evtHandle) {
	if h != 0 {
		procEvtClose.Call(uintptr(h)) //nolint:errcheck // closing
	}
}

// read queries the Application and System channels (or q.Unit), newest
// first, with the XPath filter of XPathQuery, and calls fn for each event
// until fn returns an error (errEnough at the limit), the events end, or
// ctx does.
func read(ctx context.Context, _ string, q wire.LogQuery, fn func(wire.LogEntry) error) error {
	if err := wevtapi.Load(); err != nil {
		return fmt.Errorf("logs: wevtapi.dll: %w", errors.ErrUnsupported)
	}
	query, err := windows.UTF16PtrFromString(StructuredQuery(q))
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	r, _, callErr := procEvtQuery.Call(0, 0, uintptr(unsafe.Pointer(query)), evtQueryChannelPath|evtQueryReverseDirection|evtQueryTolerateErrors)
	if r == 0 {
		return fmt.Errorf("logs: EvtQuery: %w", callErr)
	}
	results := evtHandle(r)
	defer evtClose(results)
	pubs := map[string]evtHandle{}
	defer func() {
		for _, h := range pubs {
			evtClose(h)
		}
	}()
	events := make([]evtHandle, evtNextBatch)
	buf := make([]uint16, 16<<10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var n uint32
		r, _, callErr := procEvtNext.Call(uintptr(results), evtNextBatch, uintptr(unsafe.Pointer(&events[0])), evtNextTimeoutMillis, 0, uintptr(unsafe.Pointer(&n)))
		if r == 0 {
			if errors.Is(callErr, errorNoMoreItems) {
				return nil
			}
			return fmt.Errorf("logs: EvtNext: %w", callErr)
		}
		var ferr error
		for i := range n {
			ev := events[i]
			if ferr == nil {
				var x []byte
				x, buf, ferr = render(ev, buf)
				if ferr == nil {
					if e, ok := ParseEventXML(x, ""); ok {
						e.Message = bound(formatMessage(pubs, e.Source, ev, e.Message))
						ferr = fn(e)
					}
				}
			}
			evtClose(ev)
		}
		if ferr != nil {
			return ferr
		}
	}
}

// render is an event's XML (UTF-8), growing buf if it must.
func render(ev evtHandle, buf []uint16) ([]byte, []uint16, error) {
	for {
		var used, props uint32
		r, _, callErr := procEvtRender.Call(0, uintptr(ev), evtRenderEventXML, uintptr(len(buf)*2), uintptr(unsafe.Pointer(&buf[0])),
			uintptr(unsafe.Pointer(&used)), uintptr(unsafe.Pointer(&props)))
		if r != 0 {
			return []byte(windows.UTF16ToString(buf[:used/2])), buf, nil
		}
		if !errors.Is(callErr, errorInsufficientBuffer) || int(used) > maxEventXML*2 {
			return nil, buf, fmt.Errorf("logs: EvtRender: %w", callErr)
		}
		buf = make([]uint16, used/2+1)
	}
}

// formatMessage is the provider's message for an event, or fallback when
// it has none.
func formatMessage(pubs map[string]evtHandle, provider string, ev evtHandle, fallback string) string {
	pub, ok := pubs[provider]
	if !ok {
		if len(pubs) >= maxPublishersCached {
			return fallback
		}
		name, err := windows.UTF16PtrFromString(provider)
		if err != nil {
			return fallback
		}
		r, _, _ := procEvtOpenPublisherMeta.Call(0, uintptr(unsafe.Pointer(name)), 0, 0, 0)
		pub = evtHandle(r)
		pubs[provider] = pub
	}
	if pub == 0 {
		return fallback
	}
	buf := make([]uint16, 2048)
	var used uint32
	r, _, callErr := procEvtFormatMessage.Call(uintptr(pub), uintptr(ev), 0, 0, 0, evtFormatMessageEvent, uintptr(len(buf)), uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&used)))
	if r == 0 && errors.Is(callErr, errorInsufficientBuffer) && used <= wire.MaxLogMessage*2 {
		buf = make([]uint16, used)
		r, _, _ = procEvtFormatMessage.Call(uintptr(pub), uintptr(ev), 0, 0, 0, evtFormatMessageEvent, uintptr(len(buf)), uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&used)))
	}
	if r == 0 {
		return fallback
	}
	if s := windows.UTF16ToString(buf); s != "" {
		return s
	}
	return fallback
}
