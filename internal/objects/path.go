package objects

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxID is the reserved identifier 65535 ("no instance", LwM2M-TS 1.0 §6.3);
// it never appears in a path.
const MaxID = 65535

// ErrBadPath is returned (wrapped) by ParsePath for anything that is not
// /O, /O/I, /O/I/R or /O/I/R/RI with IDs 0–65534, or the root "/".
var ErrBadPath = errors.New("bad lwm2m path")

// Path addresses the root, an object, an instance, a resource or a resource
// instance (LwM2M-TS 1.0 §6.3; the 4th level is used by 1.1 servers and by
// Read of one instance of a multiple resource). The zero Path is the root.
type Path struct {
	ids [4]uint16
	n   uint8
}

// RootPath is "/".
var RootPath = Path{}

// ObjectPath is /o.
func ObjectPath(o uint16) Path { return Path{ids: [4]uint16{o}, n: 1} }

// InstancePath is /o/i.
func InstancePath(o, i uint16) Path { return Path{ids: [4]uint16{o, i}, n: 2} }

// ResourcePath is /o/i/r.
func ResourcePath(o, i, r uint16) Path { return Path{ids: [4]uint16{o, i, r}, n: 3} }

// ResourceInstancePath is /o/i/r/ri.
func ResourceInstancePath(o, i, r, ri uint16) Path {
	return Path{ids: [4]uint16{o, i, r, ri}, n: 4}
}

// ParsePath parses "/3/0/1"-style paths; "" and "/" are the root. A
// trailing slash is tolerated ("/3/0/").
func ParsePath(s string) (Path, error) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "/"), "/")
	if s == "" {
		return RootPath, nil
	}
	return PathFromSegments(strings.Split(s, "/"))
}

// PathFromSegments builds a path from CoAP Uri-Path option values
// (["3","0","1"]), which is how the engine receives it.
func PathFromSegments(segs []string) (Path, error) {
	var p Path
	if len(segs) > 4 {
		return Path{}, fmt.Errorf("%w: %d segments", ErrBadPath, len(segs))
	}
	for k, s := range segs {
		if s == "" || len(s) > 5 || (len(s) > 1 && s[0] == '0') {
			return Path{}, fmt.Errorf("%w: segment %q", ErrBadPath, s)
		}
		v, err := strconv.ParseUint(s, 10, 16)
		if err != nil || v >= MaxID {
			return Path{}, fmt.Errorf("%w: segment %q", ErrBadPath, s)
		}
		p.ids[k] = uint16(v)
	}
	p.n = uint8(len(segs))
	return p, nil
}

// Len is the number of IDs: 0 root, 1 object, 2 instance, 3 resource,
// 4 resource instance.
func (p Path) Len() int { return int(p.n) }

// IsRoot, IsObject, IsInstance, IsResource and IsResourceInstance test Len.
func (p Path) IsRoot() bool             { return p.n == 0 }
func (p Path) IsObject() bool           { return p.n == 1 }
func (p Path) IsInstance() bool         { return p.n == 2 }
func (p Path) IsResource() bool         { return p.n == 3 }
func (p Path) IsResourceInstance() bool { return p.n == 4 }

// Object, Instance, Resource and ResourceInstance return the IDs; they are 0
// when the path is too short (check Len first).
func (p Path) Object() uint16           { return p.ids[0] }
func (p Path) Instance() uint16         { return p.ids[1] }
func (p Path) Resource() uint16         { return p.ids[2] }
func (p Path) ResourceInstance() uint16 { return p.ids[3] }

// Parent drops the last ID (the root's parent is the root).
func (p Path) Parent() Path {
	if p.n == 0 {
		return p
	}
	q := p
	q.n--
	q.ids[q.n] = 0
	return q
}

// Child appends id.
func (p Path) Child(id uint16) Path {
	if p.n == 4 {
		return p
	}
	q := p
	q.ids[q.n] = id
	q.n++
	return q
}

// Contains reports whether q is p or below p.
func (p Path) Contains(q Path) bool {
	if q.n < p.n {
		return false
	}
	for k := range int(p.n) {
		if p.ids[k] != q.ids[k] {
			return false
		}
	}
	return true
}

// String gives "/3/0/1"; the root is "/".
func (p Path) String() string {
	if p.n == 0 {
		return "/"
	}
	var b strings.Builder
	for k := range int(p.n) {
		b.WriteByte('/')
		b.WriteString(strconv.Itoa(int(p.ids[k])))
	}
	return b.String()
}

// Segments gives the Uri-Path option values (["3","0","1"]).
func (p Path) Segments() []string {
	s := make([]string, p.n)
	for k := range s {
		s[k] = strconv.Itoa(int(p.ids[k]))
	}
	return s
}
