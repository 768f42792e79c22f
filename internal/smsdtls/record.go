package smsdtls

import (
	"fmt"

	"github.com/pion/dtls/v3/pkg/protocol"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/dtls/v3/pkg/protocol/recordlayer"
)

// record is what this package needs to know about one DTLS record of a
// datagram, read from the clear headers only.
//
//	RFC 6347 §4.1 record header (13 octets):
//	| type 1 | version 2 | epoch 2 | sequence_number 6 | length 2 |
//	RFC 6347 §4.2.2 handshake header (12 octets, readable in epoch 0 only):
//	| msg_type 1 | length 3 | message_seq 2 | fragment_offset 3 | fragment_length 3 |
type record struct {
	raw         []byte // the whole record, aliases the datagram
	contentType protocol.ContentType
	epoch       uint16
	seq         uint64
	// Handshake header, when contentType is handshake and epoch is 0.
	hasHandshake bool
	hsType       handshake.Type
	hsSeq        uint16
	hsOffset     uint32
}

// splitRecords splits a datagram into its records (RFC 6347 §4.1: a datagram
// holds one or more whole records). CID records are not expected: no
// connection ID is negotiated on SMS.
func splitRecords(datagram []byte) ([]record, error) {
	raws, err := recordlayer.UnpackDatagram(datagram)
	if err != nil {
		return nil, fmt.Errorf("split datagram of %d octets: %w", len(datagram), err)
	}
	recs := make([]record, 0, len(raws))
	for _, raw := range raws {
		var h recordlayer.Header
		if err := h.Unmarshal(raw); err != nil {
			return nil, fmt.Errorf("record header: %w", err)
		}
		r := record{raw: raw, contentType: h.ContentType, epoch: h.Epoch, seq: h.SequenceNumber}
		if h.ContentType == protocol.ContentTypeHandshake && h.Epoch == 0 {
			var hh handshake.Header
			if err := hh.Unmarshal(raw[recordlayer.FixedHeaderSize:]); err == nil {
				r.hasHandshake = true
				r.hsType = hh.Type
				r.hsSeq = hh.MessageSequence
				r.hsOffset = hh.FragmentOffset
			}
		}
		recs = append(recs, r)
	}
	return recs, nil
}
