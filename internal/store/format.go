package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// File layout, version 1 (see doc.go):
//
//	+------+---------+------------+---------+---------+
//	| LWMS | version | length (4) | payload | CRC-32C |
//	+------+---------+------------+---------+---------+
//	  4 B     1 B       big-endian   length    over all before it
const (
	magic         = "LWMS"
	formatVersion = 1
	headerLen     = 4 + 1 + 4
	trailerLen    = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt wraps every reason a file fails its checks.
var errCorrupt = errors.New("corrupt state file")

func encodeFile(payload []byte) []byte {
	b := make([]byte, 0, headerLen+len(payload)+trailerLen)
	b = append(b, magic...)
	b = append(b, formatVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, payload...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeFile(b []byte) ([]byte, error) {
	if len(b) < headerLen+trailerLen {
		return nil, fmt.Errorf("%w: %d bytes, shorter than header and checksum", errCorrupt, len(b))
	}
	if !bytes.Equal(b[:4], []byte(magic)) {
		return nil, fmt.Errorf("%w: bad magic % x", errCorrupt, b[:4])
	}
	if b[4] != formatVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads %d", errCorrupt, b[4], formatVersion)
	}
	n := binary.BigEndian.Uint32(b[5:9])
	if uint64(len(b)) != uint64(headerLen)+uint64(n)+trailerLen {
		return nil, fmt.Errorf("%w: length field %d does not match file size %d", errCorrupt, n, len(b))
	}
	body := b[:len(b)-trailerLen]
	if got, want := crc32.Checksum(body, castagnoli), binary.BigEndian.Uint32(b[len(b)-trailerLen:]); got != want {
		return nil, fmt.Errorf("%w: checksum %08x, want %08x", errCorrupt, got, want)
	}
	return bytes.Clone(b[headerLen : len(b)-trailerLen]), nil
}
