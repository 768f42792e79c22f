package objects

import (
	"fmt"
	"strings"
)

// Link is one link-value of the CoRE Link Format (content format 40,
// RFC 6690 §2): "<" target ">" followed by ";"-separated parameters.
// Discover answers and the Register/Update payload are lists of them
// (LwM2M-TS 1.0 §5.3.1, §5.4.2).
type Link struct {
	Target string
	Params []LinkParam
}

// LinkParam is one link-param: a name, optionally "=" and a value that is
// a ptoken or (Quoted) a quoted-string (RFC 6690 §2).
type LinkParam struct {
	Name     string
	Value    string
	HasValue bool
	Quoted   bool
}

// Param returns the value of the first parameter called name.
func (l Link) Param(name string) (string, bool) {
	for _, p := range l.Params {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// Links is a link-format document.
type Links []Link

// DecodeLinks parses a link-format document (RFC 6690 §2):
//
//	Link       = link-value-list
//	link-value = "<" URI-Reference ">" *( ";" link-param )
//	link-param = parmname [ "=" ( ptoken / quoted-string ) ]
//
// separated by ",". An empty document is an empty list.
func DecodeLinks(b []byte) (Links, error) {
	s := string(b)
	var out Links
	off := 0
	for off < len(s) {
		if len(out) > 0 {
			if s[off] != ',' {
				return nil, decodeErr("link separator", off, ErrSyntax)
			}
			off++
		}
		if off >= len(s) || s[off] != '<' {
			return nil, decodeErr("link target", off, ErrSyntax)
		}
		end := strings.IndexByte(s[off:], '>')
		if end < 0 {
			return nil, decodeErr("link target", off, ErrTruncated)
		}
		l := Link{Target: s[off+1 : off+end]}
		if strings.ContainsAny(l.Target, "<\"") {
			return nil, decodeErr("link target", off, ErrSyntax)
		}
		off += end + 1
		for off < len(s) && s[off] == ';' {
			off++
			start := off
			for off < len(s) && isParmChar(s[off]) {
				off++
			}
			if off == start {
				return nil, decodeErr("link parmname", off, ErrSyntax)
			}
			p := LinkParam{Name: s[start:off]}
			if off < len(s) && s[off] == '=' {
				off++
				p.HasValue = true
				if off < len(s) && s[off] == '"' {
					v, n, err := parseQuoted(s[off:])
					if err != nil {
						return nil, decodeErr("link quoted-string", off, err)
					}
					p.Value, p.Quoted = v, true
					off += n
				} else {
					start := off
					for off < len(s) && isPtokenChar(s[off]) {
						off++
					}
					if off == start {
						return nil, decodeErr("link ptoken", off, ErrSyntax)
					}
					p.Value = s[start:off]
				}
			}
			l.Params = append(l.Params, p)
		}
		if off < len(s) && s[off] != ',' {
			return nil, decodeErr("link", off, ErrSyntax)
		}
		out = append(out, l)
		if off == len(s)-1 && s[off] == ',' {
			return nil, decodeErr("link separator", off, ErrTruncated)
		}
	}
	return out, nil
}

// isParmChar: parmname = token chars (RFC 5987 attr-char minus "*"... RFC
// 6690 uses RFC 5988's parmname; we accept ALPHA DIGIT and "!#$&+-.^_`|~").
func isParmChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}

// isPtokenChar: ptokenchar of RFC 5988 §5 (no separators, no quote).
func isPtokenChar(c byte) bool {
	return c > 0x20 && c < 0x7f && c != ',' && c != ';' && c != '"' && c != '\\' && c != '<' && c != '>'
}

func parseQuoted(s string) (string, int, error) {
	var b strings.Builder
	for k := 1; k < len(s); k++ {
		switch c := s[k]; c {
		case '"':
			return b.String(), k + 1, nil
		case '\\':
			k++
			if k >= len(s) {
				return "", 0, ErrTruncated
			}
			b.WriteByte(s[k])
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, ErrTruncated
}

// Append encodes the links.
func (ls Links) Append(dst []byte) ([]byte, error) {
	for k, l := range ls {
		if k > 0 {
			dst = append(dst, ',')
		}
		if strings.ContainsAny(l.Target, "<>\"") {
			return nil, fmt.Errorf("objects: encode link %q: %w", l.Target, ErrSyntax)
		}
		dst = append(dst, '<')
		dst = append(dst, l.Target...)
		dst = append(dst, '>')
		for _, p := range l.Params {
			if p.Name == "" || strings.IndexFunc(p.Name, func(r rune) bool { return r > 0x7f || !isParmChar(byte(r)) }) >= 0 {
				return nil, fmt.Errorf("objects: encode link param %q: %w", p.Name, ErrSyntax)
			}
			dst = append(dst, ';')
			dst = append(dst, p.Name...)
			if !p.HasValue {
				continue
			}
			dst = append(dst, '=')
			if p.Quoted {
				dst = append(dst, '"')
				for _, c := range []byte(p.Value) {
					if c == '"' || c == '\\' {
						dst = append(dst, '\\')
					}
					dst = append(dst, c)
				}
				dst = append(dst, '"')
				continue
			}
			if p.Value == "" || strings.IndexFunc(p.Value, func(r rune) bool { return r > 0x7f || !isPtokenChar(byte(r)) }) >= 0 {
				return nil, fmt.Errorf("objects: encode link param %s=%q: %w", p.Name, p.Value, ErrSyntax)
			}
			dst = append(dst, p.Value...)
		}
	}
	return dst, nil
}
