package lwm2m

import (
	"context"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/objects"
	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// TreeObjects adapts the object model to the engine. The tree's
// RegistrationUpdateTrigger and Disable hooks need not call the engine: it
// acts on a successful Execute of /1/x/8 and /1/x/4 itself, once the 2.04 is
// on the wire. Its OnChange hook should call Engine.Changed.
func TreeObjects(t *objects.Tree) Objects { return treeObjects{t} }

type treeObjects struct{ t *objects.Tree }

var _ Objects = treeObjects{}

func toObjPath(p Path) objects.Path {
	switch len(p) {
	case 1:
		return objects.ObjectPath(p[0])
	case 2:
		return objects.InstancePath(p[0], p[1])
	case 3:
		return objects.ResourcePath(p[0], p[1], p[2])
	case 4:
		return objects.ResourceInstancePath(p[0], p[1], p[2], p[3])
	}
	return objects.Path{}
}

func fromObjPath(p objects.Path) Path {
	out := make(Path, 0, p.Len())
	ids := []uint16{p.Object(), p.Instance(), p.Resource(), p.ResourceInstance()}
	return append(out, ids[:p.Len()]...)
}

func (a treeObjects) Accounts() ([]Account, error) {
	var out []Account
	if bs, ok := a.t.BootstrapServer(); ok {
		acc := securityOf(bs.SecurityAccount)
		acc.Bootstrap, acc.HoldOff = true, bs.HoldOff
		out = append(out, acc)
	}
	for _, s := range a.t.Servers() {
		acc := securityOf(s.SecurityAccount)
		acc.ShortID, acc.ServerInstance = s.ShortServerID, s.ServerInstance
		acc.Lifetime, acc.Binding = s.Lifetime, s.Binding
		acc.NotificationStoring = s.NotificationStoring
		acc.DefaultPmin, acc.DefaultPmax = s.DefaultPmin, s.DefaultPmax
		acc.DisableTimeout = s.DisableTimeout
		out = append(out, acc)
	}
	return out, nil
}

func securityOf(s objects.SecurityAccount) Account {
	return Account{
		URI:         s.URI,
		Security:    SecurityMode(s.SecurityMode),
		PSKIdentity: s.PSKIdentity,
		PSKKey:      Secret(s.PSK.Bytes()),
	}
}

func (a treeObjects) Links() ([]byte, error) { return a.t.RegistrationLinks(), nil }

func (a treeObjects) Attributes(ssid uint16, p Path) Attributes {
	oa := a.t.EffectiveAttributes(ssid, toObjPath(p))
	var out Attributes
	if oa.Has&objects.AttrPmin != 0 {
		d := time.Duration(oa.Pmin) * time.Second
		out.Pmin = &d
	}
	if oa.Has&objects.AttrPmax != 0 {
		d := time.Duration(oa.Pmax) * time.Second
		out.Pmax = &d
	}
	if oa.Has&objects.AttrGT != 0 {
		v := oa.GT
		out.Gt = &v
	}
	if oa.Has&objects.AttrLT != 0 {
		v := oa.LT
		out.Lt = &v
	}
	if oa.Has&objects.AttrST != 0 {
		v := oa.ST
		out.St = &v
	}
	return out
}

func (a treeObjects) BeginBootstrap() error { a.t.BootstrapBegin(); return nil }
func (a treeObjects) AbortBootstrap()       { a.t.BootstrapAbort() }

// ForgetAttributes drops a server's attributes on a new registration.
func (a treeObjects) ForgetAttributes(ssid uint16) { a.t.ForgetAttributes(ssid) }

func (a treeObjects) Serve(_ context.Context, req Request) Response {
	c := objects.Server(req.ServerID)
	if req.Bootstrap {
		c = objects.Bootstrap
	}
	p := toObjPath(req.Path)
	cf := objects.ContentFormat(req.Format)
	resp := Response{Format: FormatNone}
	var code objects.Code
	switch req.Op {
	case OpRead:
		var body []byte
		var f objects.ContentFormat
		body, f, code = a.t.Read(c, p, objects.ContentFormat(req.Accept))
		if code.Success() {
			resp.Payload, resp.Format = body, Format(f)
		}
	case OpDiscover:
		var body []byte
		body, code = a.t.Discover(c, p)
		if code.Success() {
			resp.Payload, resp.Format = body, FormatLinkFmt
		}
	case OpWrite:
		code = a.t.Write(c, p, objects.WriteReplace, cf, req.Payload)
	case OpWritePartial:
		code = a.t.Write(c, p, objects.WriteUpdate, cf, req.Payload)
	case OpWriteAttributes:
		code = a.t.WriteAttributes(c, p, req.Query)
	case OpExecute:
		code = a.t.Execute(c, p, req.Payload)
	case OpCreate:
		var np objects.Path
		np, code = a.t.Create(c, p, cf, req.Payload)
		if code.Success() {
			resp.Location = fromObjPath(np)
		}
	case OpDelete:
		code = a.t.Delete(c, p)
	case OpBootstrapFinish:
		code = a.t.BootstrapFinish()
	default:
		code = objects.MethodNotAllowed
	}
	// objects.Code and go-coap codes share RFC 7252's class<<5|detail.
	resp.Code = codes.Code(code)
	return resp
}
