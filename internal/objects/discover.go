package objects

import "strconv"

// Discover performs Discover (LwM2M-TS 1.0 §5.4.2) for a server, or
// Bootstrap-Discover (§5.2.7.3) for the bootstrap caller, and returns a
// CoRE link-format payload (content format 40). A server's answer lists the
// object, its instances and their resources with that server's attributes
// (resource level: the attributes inherited from instance and object too,
// and dim for multiple resources); the bootstrap answer lists objects and
// instances with lwm2m="1.0" and the ssid of server accounts. Values never
// appear, so secret resources are as safe here as everywhere.
func (t *Tree) Discover(c Caller, p Path) ([]byte, Code) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ls Links
	if c.Kind == CallerBootstrap {
		if p.Len() > 1 {
			return nil, BadRequest
		}
		if p.Len() == 1 {
			if _, ok := t.defs[p.Object()]; !ok {
				return nil, NotFound
			}
		}
		ls = t.bootstrapLinksLocked(p)
	} else {
		if p.IsRoot() || p.IsResourceInstance() {
			return nil, MethodNotAllowed
		}
		def, code := t.visibleLocked(c, p)
		if code != 0 {
			return nil, code
		}
		if p.Len() >= 2 && !t.allowedLocked(c, p.Object(), p.Instance(), aclRead) {
			return nil, Unauthorized
		}
		if p.IsResource() {
			if !t.existsLocked(p) {
				return nil, NotFound
			}
		}
		ls = t.discoverLinksLocked(c, def, p)
	}
	b, err := ls.Append(nil)
	if err != nil {
		return nil, InternalServerError
	}
	return b, Content
}

func (t *Tree) existsLocked(p Path) bool {
	v, ok := t.viewLocked(p.Object(), p.Instance())
	if !ok {
		return false
	}
	_, ok = v.Resources[p.Resource()]
	return ok
}

func (t *Tree) attrsLocked(ssid uint16, p Path) Attributes {
	return t.attrs[ssid][p]
}

func (t *Tree) discoverLinksLocked(c Caller, def *ObjectDef, p Path) Links {
	ssid := c.ShortServerID
	var ls Links
	if p.IsResource() {
		eff := t.attrsLocked(ssid, p.Parent().Parent()).Merge(t.attrsLocked(ssid, p.Parent())).Merge(t.attrsLocked(ssid, p))
		v, _ := t.viewLocked(p.Object(), p.Instance())
		return Links{resourceLink(p, v.Resources[p.Resource()], eff)}
	}
	op := ObjectPath(p.Object())
	if p.IsObject() {
		ls = append(ls, Link{Target: op.String(), Params: t.attrsLocked(ssid, op).links()})
	}
	for _, in := range sortedInstances(t.inst[p.Object()]) {
		if p.IsInstance() && in.ID != p.Instance() {
			continue
		}
		if !t.allowedLocked(c, p.Object(), in.ID, aclRead) {
			continue
		}
		ip := op.Child(in.ID)
		ls = append(ls, Link{Target: ip.String(), Params: t.attrsLocked(ssid, ip).links()})
		v, _ := t.viewLocked(p.Object(), in.ID)
		// Resources in ID order: those holding a value, and executable
		// ones, which hold none but exist when the object has an action.
		for _, rd := range def.Resources {
			r, present := v.Resources[rd.ID]
			if rd.Type == TypeNone {
				present = rd.Ops.Has(OpExecute) && def.Execute != nil
			}
			if !present || (c.Kind == CallerServer && rd.Ops == 0) {
				continue
			}
			rp := ip.Child(rd.ID)
			ls = append(ls, resourceLink(rp, r, t.attrsLocked(ssid, rp)))
		}
	}
	return ls
}

func resourceLink(rp Path, r Resource, a Attributes) Link {
	l := Link{Target: rp.String()}
	if r.Multiple {
		l.Params = append(l.Params, LinkParam{Name: "dim", Value: strconv.Itoa(len(r.Instances)), HasValue: true})
	}
	l.Params = append(l.Params, a.links()...)
	return l
}

func (t *Tree) bootstrapLinksLocked(p Path) Links {
	ls := Links{{Target: "", Params: []LinkParam{{Name: "lwm2m", Value: "1.0", HasValue: true, Quoted: true}}}}
	if p.IsRoot() {
		ls[0].Target = "/"
	} else {
		ls = Links{}
	}
	for _, o := range slicesSortedKeys(t.defs) {
		if p.Len() == 1 && o != p.Object() {
			continue
		}
		ins := sortedInstances(t.inst[o])
		if len(ins) == 0 {
			ls = append(ls, Link{Target: ObjectPath(o).String()})
			continue
		}
		for _, in := range ins {
			l := Link{Target: InstancePath(o, in.ID).String()}
			ssid := int64(-1)
			switch o {
			case SecurityObjectID:
				if !in.Bool(1, false) {
					ssid = in.Int(10, -1)
				}
			case ServerObjectID:
				ssid = in.Int(0, -1)
			}
			if ssid >= 0 {
				l.Params = []LinkParam{{Name: "ssid", Value: strconv.FormatInt(ssid, 10), HasValue: true}}
			}
			ls = append(ls, l)
		}
	}
	return ls
}

// RegistrationLinks returns the Register/Update payload (LwM2M-TS 1.0
// §5.3.1; content format 40): every object instance except the Security
// object's, and objects without instances as "</O>".
func (t *Tree) RegistrationLinks() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ls Links
	for _, o := range slicesSortedKeys(t.defs) {
		if o == SecurityObjectID {
			continue
		}
		ins := sortedInstances(t.inst[o])
		if len(ins) == 0 {
			ls = append(ls, Link{Target: ObjectPath(o).String()})
		}
		for _, in := range ins {
			ls = append(ls, Link{Target: InstancePath(o, in.ID).String()})
		}
	}
	b, _ := ls.Append(nil) // targets are numeric paths: always encodable
	return b
}
