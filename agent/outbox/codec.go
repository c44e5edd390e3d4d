package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// ErrCorrupt is returned by Decode for bytes that are not a whole, intact
// item: torn, truncated, altered, or of another format.
var ErrCorrupt = errors.New("outbox: corrupt item")

// The encoding of one item, all integers big-endian:
//
//	"PDQ1"  magic and version (4 bytes)
//	seq     uint64
//	klen    uint8   length of kind
//	ilen    uint8   length of id
//	plen    uint32  length of payload
//	kind, id, payload
//	crc     uint32  CRC-32C (Castagnoli) of everything before it
const (
	magic     = "PDQ1"
	headerLen = 4 + 8 + 1 + 1 + 4
	// MaxPayload bounds one item's payload (the decoder refuses more
	// before allocating anything).
	MaxPayload = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Encode returns an item's bytes on disk. Kind and ID must fit their bounds
// (Put checks).
func Encode(it Item) []byte {
	b := make([]byte, 0, headerLen+len(it.Kind)+len(it.ID)+len(it.Payload)+4)
	b = append(b, magic...)
	b = binary.BigEndian.AppendUint64(b, it.Seq)
	b = append(b, byte(len(it.Kind)), byte(len(it.ID)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(it.Payload)))
	b = append(b, it.Kind...)
	b = append(b, it.ID...)
	b = append(b, it.Payload...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// Decode parses one item's bytes. Anything but an intact item is
// ErrCorrupt; it never panics, and it allocates nothing beyond len(b).
func Decode(b []byte) (Item, error) {
	if len(b) < headerLen+4 {
		return Item{}, fmt.Errorf("%w: %d bytes is too short", ErrCorrupt, len(b))
	}
	if string(b[:4]) != magic {
		return Item{}, fmt.Errorf("%w: not an outbox item", ErrCorrupt)
	}
	seq := binary.BigEndian.Uint64(b[4:])
	klen, ilen := int(b[12]), int(b[13])
	plen := binary.BigEndian.Uint32(b[14:])
	if plen > MaxPayload {
		return Item{}, fmt.Errorf("%w: payload of %d bytes", ErrCorrupt, plen)
	}
	want := headerLen + klen + ilen + int(plen) + 4
	if len(b) != want {
		return Item{}, fmt.Errorf("%w: %d bytes where the header says %d (torn?)", ErrCorrupt, len(b), want)
	}
	body := b[:want-4]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[want-4:]) {
		return Item{}, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	p := headerLen
	kind := string(b[p : p+klen])
	p += klen
	id := string(b[p : p+ilen])
	p += ilen
	if !validName(kind, MaxKindLen) || !validName(id, MaxIDLen) {
		return Item{}, fmt.Errorf("%w: bad kind or id", ErrCorrupt)
	}
	payload := append([]byte(nil), b[p:p+int(plen)]...)
	return Item{Seq: seq, Kind: kind, ID: id, Payload: payload}, nil
}
