package lwm2m_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/lwm2m"
	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// fakeTree is a deliberately small object tree for engine tests: resources
// are strings at /O/I/R, TLV and JSON are encoded for single-value resources
// only. The real model (internal/objects) is tested on its own; these tests
// are about the engine's CoAP mapping, registration and observation.
type fakeTree struct {
	mu         sync.Mutex
	res        map[string]string // "/O/I/R" → plain-text value
	staged     map[string]string // bootstrap staging, nil outside a bootstrap
	attrs      map[string]lwm2m.Attributes
	now        func() time.Time
	execs      []string
	creatable  map[uint16]bool
	failFinish bool
}

func newFakeTree(now func() time.Time) *fakeTree {
	return &fakeTree{res: map[string]string{}, attrs: map[string]lwm2m.Attributes{}, now: now,
		creatable: map[uint16]bool{1024: true}}
}

// addServer adds Security /0/i and Server /1/i for ssid.
func (f *fakeTree) addServer(i int, ssid int, uri string, lifetime int, binding string, pskID, pskKey string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := func(o, r int) string { return fmt.Sprintf("/%d/%d/%d", o, i, r) }
	f.res[p(0, 0)] = uri
	f.res[p(0, 1)] = "0"
	mode := "3"
	if pskID != "" {
		mode = "0"
		f.res[p(0, 3)] = pskID
		f.res[p(0, 5)] = pskKey
	}
	f.res[p(0, 2)] = mode
	f.res[p(0, 10)] = strconv.Itoa(ssid)
	f.res[p(1, 0)] = strconv.Itoa(ssid)
	f.res[p(1, 1)] = strconv.Itoa(lifetime)
	f.res[p(1, 6)] = "1"
	f.res[p(1, 7)] = binding
}

func (f *fakeTree) addBootstrap(i int, uri string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.res[fmt.Sprintf("/0/%d/0", i)] = uri
	f.res[fmt.Sprintf("/0/%d/1", i)] = "1"
	f.res[fmt.Sprintf("/0/%d/2", i)] = "3"
}

func (f *fakeTree) addDevice() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.res["/3/0/0"] = "Open Mobile Alliance"
	f.res["/3/0/1"] = "Lightweight M2M Client"
	f.res["/3/0/16"] = "U"
}

func splitKey(k string) (o, i, r uint16) {
	var a, b, c int
	fmt.Sscanf(k, "/%d/%d/%d", &a, &b, &c)
	return uint16(a), uint16(b), uint16(c)
}

func (f *fakeTree) get(k string) (string, bool) {
	if k == "/3/0/13" {
		return strconv.FormatInt(f.now().Unix(), 10), true
	}
	v, ok := f.res[k]
	return v, ok
}

func (f *fakeTree) Accounts() ([]lwm2m.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	insts := map[uint16]bool{}
	for k := range f.res {
		if o, i, _ := splitKey(k); o == 0 {
			insts[i] = true
		}
	}
	var out []lwm2m.Account
	for i := range insts {
		g := func(o, r int) string { return f.res[fmt.Sprintf("/%d/%d/%d", o, i, r)] }
		a := lwm2m.Account{URI: g(0, 0), Bootstrap: g(0, 1) == "1"}
		if g(0, 2) == "0" {
			a.Security = lwm2m.SecurityPSK
			a.PSKIdentity = []byte(g(0, 3))
			a.PSKKey = []byte(g(0, 5))
		} else {
			a.Security = lwm2m.SecurityNoSec
		}
		if !a.Bootstrap {
			ssid, _ := strconv.Atoi(g(0, 10))
			a.ShortID = uint16(ssid)
			// Find the Server instance with that ssid.
			for k, v := range f.res {
				if o, si, r := splitKey(k); o == 1 && r == 0 && v == g(0, 10) {
					a.ServerInstance = si
					lt, _ := strconv.Atoi(f.res[fmt.Sprintf("/1/%d/1", si)])
					a.Lifetime = time.Duration(lt) * time.Second
					a.Binding = f.res[fmt.Sprintf("/1/%d/7", si)]
					a.NotificationStoring = f.res[fmt.Sprintf("/1/%d/6", si)] == "1"
				}
			}
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ShortID < out[j].ShortID })
	return out, nil
}

func (f *fakeTree) Links() ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := map[string]bool{}
	var links []string
	for k := range f.res {
		o, i, _ := splitKey(k)
		if o == 0 {
			continue
		}
		l := fmt.Sprintf("</%d/%d>", o, i)
		if !seen[l] {
			seen[l] = true
			links = append(links, l)
		}
	}
	sort.Strings(links)
	return []byte(strings.Join(links, ",")), nil
}

func (f *fakeTree) Attributes(ssid uint16, p lwm2m.Path) lwm2m.Attributes {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attrs[fmt.Sprint(ssid, p.String())]
}

func (f *fakeTree) BeginBootstrap() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.staged = map[string]string{}
	for k, v := range f.res {
		f.staged[k] = v
	}
	return nil
}

func (f *fakeTree) AbortBootstrap() {
	f.mu.Lock()
	f.staged = nil
	f.mu.Unlock()
}

func (f *fakeTree) keysUnder(m map[string]string, p lwm2m.Path) []string {
	var out []string
	for k := range m {
		q, _ := lwm2m.ParsePath(k)
		if p.Covers(q) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// tlvResource encodes one resource with a string value (LwM2M-TS 1.0 §6.4.3).
func tlvResource(id uint16, v string) []byte {
	b := []byte{0xC0}
	if id > 255 {
		b[0] |= 0x20
		b = append(b, byte(id>>8))
	}
	b = append(b, byte(id))
	n := len(v)
	switch {
	case n < 8:
		b[0] |= byte(n)
	case n < 256:
		b[0] |= 0x08
		b = append(b, byte(n))
	default:
		b[0] |= 0x10
		b = append(b, byte(n>>8), byte(n))
	}
	return append(b, v...)
}

func (f *fakeTree) Serve(_ context.Context, req lwm2m.Request) lwm2m.Response {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.res
	if req.Bootstrap {
		if f.staged == nil {
			return lwm2m.Response{Code: codes.BadRequest, Format: lwm2m.FormatNone}
		}
		m = f.staged
	}
	none := func(c codes.Code) lwm2m.Response { return lwm2m.Response{Code: c, Format: lwm2m.FormatNone} }
	if !req.Bootstrap && len(req.Path) > 0 && req.Path[0] == 0 {
		return none(codes.Unauthorized) // Security is invisible to DM servers
	}
	switch req.Op {
	case lwm2m.OpBootstrapFinish:
		if f.failFinish {
			return none(codes.NotAcceptable)
		}
		f.res, f.staged = f.staged, nil
		return none(codes.Changed)
	case lwm2m.OpRead:
		keys := f.keysUnder(m, req.Path)
		if len(keys) == 0 {
			if _, ok := f.get(req.Path.String()); !ok {
				return none(codes.NotFound)
			}
			keys = []string{req.Path.String()}
		}
		if len(req.Path) == 3 && (req.Accept == lwm2m.FormatNone || req.Accept == lwm2m.FormatText) {
			v, _ := f.get(keys[0])
			return lwm2m.Response{Code: codes.Content, Format: lwm2m.FormatText, Payload: []byte(v)}
		}
		if req.Path.String() == "/3/0" {
			keys = append(keys, "/3/0/13")
			sort.Strings(keys)
		}
		switch req.Accept {
		case lwm2m.FormatNone, lwm2m.FormatTLV:
			var b []byte
			for _, k := range keys {
				_, _, r := splitKey(k)
				v, _ := f.get(k)
				b = append(b, tlvResource(r, v)...)
			}
			return lwm2m.Response{Code: codes.Content, Format: lwm2m.FormatTLV, Payload: b}
		case lwm2m.FormatJSON:
			type e struct {
				N  string `json:"n"`
				SV string `json:"sv"`
			}
			doc := struct {
				BN string `json:"bn"`
				E  []e    `json:"e"`
			}{BN: req.Path.String() + "/"}
			for _, k := range keys {
				v, _ := f.get(k)
				doc.E = append(doc.E, e{N: strings.TrimPrefix(k, req.Path.String()+"/"), SV: v})
			}
			b, _ := json.Marshal(doc)
			return lwm2m.Response{Code: codes.Content, Format: lwm2m.FormatJSON, Payload: b}
		default:
			return none(codes.NotAcceptable)
		}
	case lwm2m.OpDiscover:
		var l []string
		for _, k := range f.keysUnder(m, req.Path) {
			l = append(l, "<"+k+">")
		}
		if len(l) == 0 {
			return none(codes.NotFound)
		}
		return lwm2m.Response{Code: codes.Content, Format: lwm2m.FormatLinkFmt, Payload: []byte(strings.Join(l, ","))}
	case lwm2m.OpWrite, lwm2m.OpWritePartial:
		if len(req.Path) != 3 || req.Format != lwm2m.FormatText {
			return none(codes.UnsupportedMediaType)
		}
		if _, ok := m[req.Path.String()]; !ok && !req.Bootstrap {
			return none(codes.NotFound)
		}
		m[req.Path.String()] = string(req.Payload)
		return none(codes.Changed)
	case lwm2m.OpExecute:
		f.execs = append(f.execs, req.Path.String())
		if req.Path.String() == "/3/0/99" {
			panic("resource handler bug")
		}
		return none(codes.Changed)
	case lwm2m.OpWriteAttributes:
		f.attrs[fmt.Sprint(req.ServerID, req.Path.String())] = req.Attributes
		return none(codes.Changed)
	case lwm2m.OpCreate:
		if !f.creatable[req.Path[0]] {
			return none(codes.MethodNotAllowed)
		}
		id := uint16(0)
		for len(f.keysUnder(m, lwm2m.Path{req.Path[0], id})) > 0 {
			id++
		}
		m[fmt.Sprintf("/%d/%d/0", req.Path[0], id)] = string(req.Payload)
		return lwm2m.Response{Code: codes.Created, Format: lwm2m.FormatNone, Location: lwm2m.Path{req.Path[0], id}}
	case lwm2m.OpDelete:
		keys := f.keysUnder(m, req.Path)
		if len(keys) == 0 {
			return none(codes.NotFound)
		}
		if !req.Bootstrap && (len(req.Path) != 2 || !f.creatable[req.Path[0]]) {
			return none(codes.MethodNotAllowed)
		}
		for _, k := range keys {
			delete(m, k)
		}
		return none(codes.Deleted)
	}
	return none(codes.MethodNotAllowed)
}

var _ lwm2m.Objects = (*fakeTree)(nil)
