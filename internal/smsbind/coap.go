package smsbind

// wellFormedCoAP reports whether b is a syntactically valid CoAP message
// (RFC 7252 §3), which is all this layer checks before handing it to the
// engine: an SMS that is not one is dropped without any reply, not even a
// CoAP Reset (LwM2M-TS 1.0 §7.2 "silently ignored").
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	|Ver| T |  TKL  |     Code      |          Message ID           |
//	| Token (0..8 bytes)  | Options ... | 0xFF | Payload ...
func wellFormedCoAP(b []byte) bool {
	if len(b) < 4 || b[0]>>6 != 1 { // RFC 7252 §3: Ver MUST be 1
		return false
	}
	tkl := int(b[0] & 0x0F)
	if tkl > 8 { // §3: lengths 9–15 are a message format error
		return false
	}
	code := b[1]
	if code == 0 { // §4.1: an Empty message has no token, options or payload
		return len(b) == 4 && tkl == 0
	}
	if cls := code >> 5; cls == 1 || cls >= 6 { // §12.1: classes 1, 6, 7 are reserved
		return false
	}
	i := 4 + tkl
	if i > len(b) {
		return false
	}
	for i < len(b) {
		h := b[i]
		i++
		if h == 0xFF { // §3: payload marker; a zero-length payload after it is a format error
			return i < len(b)
		}
		delta, length := int(h>>4), int(h&0x0F)
		var ok bool
		if delta, i, ok = optionExt(b, i, delta); !ok {
			return false
		}
		if length, i, ok = optionExt(b, i, length); !ok {
			return false
		}
		_ = delta
		if i+length > len(b) {
			return false
		}
		i += length
	}
	return true
}

// optionExt reads the extended option delta or length of RFC 7252 §3.1:
// nibble 13 → one more octet (value − 13), 14 → two (value − 269), 15 is
// reserved.
func optionExt(b []byte, i, nibble int) (int, int, bool) {
	switch nibble {
	case 13:
		if i+1 > len(b) {
			return 0, i, false
		}
		return int(b[i]) + 13, i + 1, true
	case 14:
		if i+2 > len(b) {
			return 0, i, false
		}
		return int(b[i])<<8 | int(b[i+1]) + 269, i + 2, true
	case 15:
		return 0, i, false
	}
	return nibble, i, true
}
