package objects

import "strconv"

// ContentFormat is a CoAP Content-Format / Accept number
// (LwM2M-TS 1.0 §6.4; lwm2m.md §7.1).
type ContentFormat int

// Content formats a 1.0 client speaks. NoFormat means "the request carried
// no Content-Format / Accept option".
const (
	NoFormat     ContentFormat = -1
	FormatText   ContentFormat = 0     // text/plain, single resource
	FormatLink   ContentFormat = 40    // application/link-format (RFC 6690)
	FormatOpaque ContentFormat = 42    // application/octet-stream
	FormatTLV    ContentFormat = 11542 // application/vnd.oma.lwm2m+tlv
	FormatJSON   ContentFormat = 11543 // application/vnd.oma.lwm2m+json

	// Pre-IANA numbers of the 1.0 drafts, accepted on input only
	// (lwm2m.md §7.1: Wakaama keeps 1542/1543, Copper/Awa used 1541/1544).
	FormatLegacyText   ContentFormat = 1541
	FormatLegacyTLV    ContentFormat = 1542
	FormatLegacyJSON   ContentFormat = 1543
	FormatLegacyOpaque ContentFormat = 1544
)

// Canonical maps the pre-1.0 numbers 1541–1544 to their IANA numbers and
// returns every other value unchanged.
func (f ContentFormat) Canonical() ContentFormat {
	switch f {
	case FormatLegacyText:
		return FormatText
	case FormatLegacyTLV:
		return FormatTLV
	case FormatLegacyJSON:
		return FormatJSON
	case FormatLegacyOpaque:
		return FormatOpaque
	}
	return f
}

// String names the format ("tlv", "json", …) or gives its number.
func (f ContentFormat) String() string {
	switch f {
	case NoFormat:
		return "none"
	case FormatText:
		return "text"
	case FormatLink:
		return "link"
	case FormatOpaque:
		return "opaque"
	case FormatTLV:
		return "tlv"
	case FormatJSON:
		return "json"
	}
	return strconv.Itoa(int(f))
}
