package objects

import (
	"fmt"
	"strconv"
	"strings"
)

// AttrMask says which attributes are set at one level.
type AttrMask uint8

// Attribute bits.
const (
	AttrPmin AttrMask = 1 << iota
	AttrPmax
	AttrGT
	AttrLT
	AttrST
)

// Attributes are the notification attributes of one server at one level
// (LwM2M-TS 1.0 §5.1.2): pmin/pmax in seconds, gt/lt/st for numeric
// resources. Has says which are set.
type Attributes struct {
	Pmin, Pmax int64
	GT, LT, ST float64
	Has        AttrMask
}

// Merge returns a with every attribute set in over replacing a's.
func (a Attributes) Merge(over Attributes) Attributes {
	if over.Has&AttrPmin != 0 {
		a.Pmin = over.Pmin
	}
	if over.Has&AttrPmax != 0 {
		a.Pmax = over.Pmax
	}
	if over.Has&AttrGT != 0 {
		a.GT = over.GT
	}
	if over.Has&AttrLT != 0 {
		a.LT = over.LT
	}
	if over.Has&AttrST != 0 {
		a.ST = over.ST
	}
	a.Has |= over.Has
	return a
}

// links renders the set attributes as link parameters, in the order
// pmin, pmax, gt, lt, st.
func (a Attributes) links() []LinkParam {
	var ps []LinkParam
	add := func(m AttrMask, name, v string) {
		if a.Has&m != 0 {
			ps = append(ps, LinkParam{Name: name, Value: v, HasValue: true})
		}
	}
	add(AttrPmin, "pmin", strconv.FormatInt(a.Pmin, 10))
	add(AttrPmax, "pmax", strconv.FormatInt(a.Pmax, 10))
	add(AttrGT, "gt", strconv.FormatFloat(a.GT, 'g', -1, 64))
	add(AttrLT, "lt", strconv.FormatFloat(a.LT, 'g', -1, 64))
	add(AttrST, "st", strconv.FormatFloat(a.ST, 'g', -1, 64))
	return ps
}

// attrUpdate is a parsed Write-Attributes query: set values and cleared names.
type attrUpdate struct {
	set   Attributes
	clear AttrMask
}

// parseAttrQuery parses Uri-Query values ("pmin=10", "gt=20.5", "lt")
// (LwM2M-TS 1.0 §5.4.4; a name without a value clears that attribute).
func parseAttrQuery(query []string) (attrUpdate, error) {
	var u attrUpdate
	for _, q := range query {
		name, val, hasVal := strings.Cut(q, "=")
		var m AttrMask
		switch name {
		case "pmin":
			m = AttrPmin
		case "pmax":
			m = AttrPmax
		case "gt":
			m = AttrGT
		case "lt":
			m = AttrLT
		case "st":
			m = AttrST
		default:
			return attrUpdate{}, fmt.Errorf("%w: attribute %q", ErrSyntax, name)
		}
		if (u.set.Has|u.clear)&m != 0 {
			return attrUpdate{}, fmt.Errorf("%w: attribute %q twice", ErrSyntax, name)
		}
		if !hasVal {
			u.clear |= m
			continue
		}
		switch m {
		case AttrPmin, AttrPmax:
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 {
				return attrUpdate{}, fmt.Errorf("%w: %s=%q", ErrBadNumber, name, val)
			}
			if m == AttrPmin {
				u.set.Pmin = n
			} else {
				u.set.Pmax = n
			}
		default:
			f, err := strconv.ParseFloat(val, 64)
			if err != nil || !isDecimal(val) || (m == AttrST && f < 0) {
				return attrUpdate{}, fmt.Errorf("%w: %s=%q", ErrBadNumber, name, val)
			}
			switch m {
			case AttrGT:
				u.set.GT = f
			case AttrLT:
				u.set.LT = f
			case AttrST:
				u.set.ST = f
			}
		}
		u.set.Has |= m
	}
	return u, nil
}

// apply returns a with u applied.
func (u attrUpdate) apply(a Attributes) Attributes {
	a = a.Merge(u.set)
	a.Has &^= u.clear
	if u.clear&AttrPmin != 0 {
		a.Pmin = 0
	}
	if u.clear&AttrPmax != 0 {
		a.Pmax = 0
	}
	if u.clear&AttrGT != 0 {
		a.GT = 0
	}
	if u.clear&AttrLT != 0 {
		a.LT = 0
	}
	if u.clear&AttrST != 0 {
		a.ST = 0
	}
	return a
}

// valid checks the §5.1.2 conditions that a combination must meet:
// lt < gt, and lt + 2·st < gt when all three are set.
func (a Attributes) valid() error {
	if a.Has&(AttrGT|AttrLT) == AttrGT|AttrLT {
		if a.LT >= a.GT {
			return fmt.Errorf("%w: lt %g not below gt %g", ErrOutOfRange, a.LT, a.GT)
		}
		if a.Has&AttrST != 0 && a.LT+2*a.ST >= a.GT {
			return fmt.Errorf("%w: lt + 2·st not below gt", ErrOutOfRange)
		}
	}
	return nil
}

// WriteAttributes performs Write-Attributes (LwM2M-TS 1.0 §5.4.4) with the
// request's Uri-Query values ("pmin=10", "gt=20", "lt" clears lt).
// Attributes are kept per server and per level, in memory (a server sets
// them again after it registers anew). gt, lt and st apply to numeric
// single resources only.
//
// Codes: 2.04; 4.00 (unknown or invalid attribute), 4.01, 4.04, 4.05.
func (t *Tree) WriteAttributes(c Caller, p Path, query []string) Code {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.Kind != CallerServer || p.IsRoot() || p.IsResourceInstance() {
		return MethodNotAllowed
	}
	def, code := t.visibleLocked(c, p)
	if code != 0 {
		return code
	}
	if p.Len() >= 2 && !t.allowedLocked(c, p.Object(), p.Instance(), aclRead) {
		return Unauthorized
	}
	u, err := parseAttrQuery(query)
	if err != nil {
		return BadRequest
	}
	if u.set.Has&(AttrGT|AttrLT|AttrST) != 0 {
		if !p.IsResource() {
			return BadRequest
		}
		rd, ok := def.Resource(p.Resource())
		if !ok || rd.Multiple || !(rd.Type == TypeInteger || rd.Type == TypeFloat || rd.Type == TypeTime) {
			return BadRequest
		}
	}
	if p.IsResource() && !t.existsLocked(p) {
		return NotFound
	}
	next := u.apply(t.attrsLocked(c.ShortServerID, p))
	if err := next.valid(); err != nil {
		return BadRequest
	}
	if t.attrs[c.ShortServerID] == nil {
		t.attrs[c.ShortServerID] = map[Path]Attributes{}
	}
	if next.Has == 0 {
		delete(t.attrs[c.ShortServerID], p)
	} else {
		t.attrs[c.ShortServerID][p] = next
	}
	return Changed
}

// EffectiveAttributes returns the attributes that govern observations of p
// by server ssid: resource over instance over object, with pmin and pmax
// falling back to Server resources 2 and 3 of that server
// (LwM2M-TS 1.0 §5.1.2; lwm2m.md §8.4).
func (t *Tree) EffectiveAttributes(ssid uint16, p Path) Attributes {
	t.mu.Lock()
	defer t.mu.Unlock()
	var a Attributes
	if srv, ok := t.serverInstanceLocked(ssid); ok {
		if r, ok := srv.Resources[2]; ok {
			a = a.Merge(Attributes{Pmin: r.Value.Int(), Has: AttrPmin})
		}
		if r, ok := srv.Resources[3]; ok {
			a = a.Merge(Attributes{Pmax: r.Value.Int(), Has: AttrPmax})
		}
	}
	levels := []Path{}
	for q := p; q.Len() > 0; q = q.Parent() {
		levels = append([]Path{q}, levels...)
	}
	for _, q := range levels {
		a = a.Merge(t.attrsLocked(ssid, q))
	}
	return a
}

// ForgetAttributes drops every attribute of server ssid (the engine calls
// it on a new registration, since attributes belong to one registration).
func (t *Tree) ForgetAttributes(ssid uint16) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.attrs, ssid)
}
