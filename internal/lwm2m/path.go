package lwm2m

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxID is the reserved identifier 65535 ("no instance"), LwM2M-TS 1.0 §6.3.
const MaxID = 65535

// Path is an LwM2M path: /Object[/Instance[/Resource[/ResourceInstance]]].
// The empty Path is the root "/".
type Path []uint16

// ErrBadPath reports a Uri-Path that is not an LwM2M path.
var ErrBadPath = errors.New("not an LwM2M path")

// ParsePath parses "/3/0/13" (a leading slash is optional; "" and "/" are the
// root). Segments are decimal 0–65534 (LwM2M-TS 1.0 §6.3).
func ParsePath(s string) (Path, error) {
	s = strings.Trim(s, "/")
	if s == "" {
		return Path{}, nil
	}
	parts := strings.Split(s, "/")
	if len(parts) > 4 {
		return nil, fmt.Errorf("lwm2m: path %q: %w", s, ErrBadPath)
	}
	p := make(Path, 0, len(parts))
	for _, part := range parts {
		n, err := strconv.ParseUint(part, 10, 16)
		if err != nil || n >= MaxID || (len(part) > 1 && part[0] == '0') {
			return nil, fmt.Errorf("lwm2m: path %q: segment %q: %w", s, part, ErrBadPath)
		}
		p = append(p, uint16(n))
	}
	return p, nil
}

// String returns "/3/0/13", or "/" for the root.
func (p Path) String() string {
	if len(p) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, id := range p {
		b.WriteByte('/')
		b.WriteString(strconv.Itoa(int(id)))
	}
	return b.String()
}

// Covers reports whether q is p or below p (an observation of /3/0 covers a
// change of /3/0/13).
func (p Path) Covers(q Path) bool {
	if len(q) < len(p) {
		return false
	}
	for i := range p {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// Equal reports whether p and q name the same node.
func (p Path) Equal(q Path) bool { return len(p) == len(q) && p.Covers(q) }
