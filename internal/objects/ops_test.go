package objects

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/store"
)

func tlvBytes(tb testing.TB, ts TLVs) []byte {
	tb.Helper()
	b, err := ts.Append(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func intTLV(id uint16, v int64) TLV {
	return TLV{Kind: TLVResource, ID: id, Value: appendTLVValue(nil, IntValue(v))}
}
func strTLV(id uint16, s string) TLV { return TLV{Kind: TLVResource, ID: id, Value: []byte(s)} }
func boolTLV(id uint16, b bool) TLV {
	return TLV{Kind: TLVResource, ID: id, Value: appendTLVValue(nil, BoolValue(b))}
}

func TestWriteSemantics(t *testing.T) {
	e := newTestTree(t, testFactory())
	tr, c := e.tree, Server(101)
	p10 := mustPath(t, "/1/0")
	// Give the instance optional resources first (partial update).
	if code := tr.Write(c, p10, WriteUpdate, FormatTLV, tlvBytes(t, TLVs{intTLV(2, 5), intTLV(3, 60)})); code != Changed {
		t.Fatalf("partial update = %s", code)
	}
	if v := ValueOf(t, tr, "/1/0/1"); v != "3600" {
		t.Errorf("partial update touched lifetime: %s", v)
	}
	// Replace without resource 3: it goes; mandatory ones must be present.
	full := TLVs{intTLV(1, 120), intTLV(2, 1), boolTLV(6, false), strTLV(7, "U")}
	if code := tr.Write(c, p10, WriteReplace, FormatTLV, tlvBytes(t, full)); code != Changed {
		t.Fatalf("replace = %s", code)
	}
	if tr.Exists(mustPath(t, "/1/0/3")) {
		t.Errorf("replace kept resource 3")
	}
	if code := tr.Write(c, p10, WriteReplace, FormatTLV, tlvBytes(t, TLVs{intTLV(1, 120)})); code != BadRequest {
		t.Errorf("replace without mandatory resources = %s", code)
	}
	for _, tc := range []struct {
		name    string
		path    string
		cf      ContentFormat
		payload []byte
		want    Code
	}{
		{"read-only resource", "/1/0/0", FormatText, []byte("7"), MethodNotAllowed},
		{"read-only in instance payload", "/1/0", FormatTLV, tlvBytes(t, TLVs{intTLV(0, 7)}), MethodNotAllowed},
		{"executable resource", "/1/0/8", FormatText, []byte("1"), MethodNotAllowed},
		{"unknown resource", "/1/0", FormatTLV, tlvBytes(t, TLVs{intTLV(99, 1)}), NotFound},
		{"invalid binding", "/1/0/7", FormatText, []byte("UQSQ"), BadRequest},
		{"binding UQ", "/1/0/7", FormatText, []byte("UQ"), Changed},
		{"lifetime 0", "/1/0/1", FormatText, []byte("0"), BadRequest},
		{"lifetime not a number", "/1/0/1", FormatText, []byte("1h"), BadRequest},
		{"lifetime JSON", "/1/0/1", FormatJSON, []byte(`{"bn":"/1/0/","e":[{"n":"1","v":300}]}`), Changed},
		{"lifetime legacy TLV", "/1/0/1", FormatLegacyTLV, tlvBytes(t, TLVs{intTLV(1, 301)}), Changed},
		{"JSON for another resource", "/1/0/1", FormatJSON, []byte(`{"bn":"/1/0/","e":[{"n":"2","v":300}]}`), BadRequest},
		{"unsupported format", "/1/0/1", ContentFormat(60), []byte{0x01}, UnsupportedFormat},
		{"no format", "/1/0/1", NoFormat, []byte("1"), UnsupportedFormat},
		{"text for an instance", "/1/0", FormatText, []byte("1"), UnsupportedFormat},
		{"opaque for an integer", "/1/0/1", FormatOpaque, []byte{1}, UnsupportedFormat},
		{"object level", "/1", FormatTLV, nil, MethodNotAllowed},
		{"missing instance", "/1/7/1", FormatText, []byte("60"), NotFound},
		{"bad TLV", "/1/0", FormatTLV, []byte{0xC8, 0x01}, BadRequest},
		{"TLV for other instance", "/1/0", FormatTLV, tlvBytes(t, TLVs{{Kind: TLVObjectInstance, ID: 3, Children: []TLV{intTLV(1, 60)}}}), BadRequest},
		{"device timezone", "/3/0/15", FormatText, []byte("Europe/Paris"), Changed},
		{"string not utf-8", "/3/0/15", FormatText, []byte{0xff}, BadRequest},
	} {
		if code := tr.Write(c, mustPath(t, tc.path), WriteReplace, tc.cf, tc.payload); code != tc.want {
			t.Errorf("%s: Write %s = %s, want %s", tc.name, tc.path, code, tc.want)
		}
	}
	if v := ValueOf(t, tr, "/1/0/1"); v != "301" {
		t.Errorf("lifetime = %s", v)
	}
	// Current Time: a written value keeps ticking with the clock.
	if code := tr.Write(c, mustPath(t, "/3/0/13"), WriteReplace, FormatText, []byte("1000")); code != Changed {
		t.Fatalf("write time = %s", code)
	}
	if v := ValueOf(t, tr, "/3/0/13"); v != "1000" {
		t.Errorf("current time after write = %s", v)
	}
}

func TestUnchangedWriteNotStored(t *testing.T) {
	e := newTestTree(t, testFactory())
	before := e.st.Writes()
	e.changes = nil
	for range 3 {
		if code := e.tree.Write(Server(101), mustPath(t, "/1/0/1"), WriteReplace, FormatText, []byte("3600")); code != Changed {
			t.Fatal(code)
		}
	}
	if e.st.Writes() != before || len(e.changes) != 0 {
		t.Errorf("unchanged value written %d times, %d changes", e.st.Writes()-before, len(e.changes))
	}
}

func TestCreateDelete(t *testing.T) {
	e := newTestTree(t, testFactory())
	tr, c := e.tree, Server(101)
	inst := TLVs{intTLV(0, 202), intTLV(1, 60), boolTLV(6, true), strTLV(7, "U")}
	p, code := tr.Create(c, ObjectPath(1), FormatTLV, tlvBytes(t, inst))
	if code != Created || p.String() != "/1/1" {
		t.Fatalf("create (client-chosen id) = %s %s", p, code)
	}
	if got := e.changes[len(e.changes)-1]; got.Kind != ChangeCreated || got.Path != p {
		t.Errorf("change %+v", got)
	}
	wrapped := TLVs{{Kind: TLVObjectInstance, ID: 9, Children: []TLV{intTLV(0, 203), intTLV(1, 60), boolTLV(6, true), strTLV(7, "U")}}}
	if p, code := tr.Create(c, ObjectPath(1), FormatTLV, tlvBytes(t, wrapped)); code != Created || p.String() != "/1/9" {
		t.Fatalf("create (server-chosen id) = %s %s", p, code)
	}
	for _, tc := range []struct {
		name    string
		obj     string
		cf      ContentFormat
		payload []byte
		want    Code
	}{
		{"existing id", "/1", FormatTLV, tlvBytes(t, wrapped), BadRequest},
		{"missing mandatory", "/1", FormatTLV, tlvBytes(t, TLVs{intTLV(0, 204)}), BadRequest},
		{"duplicate short server id", "/1", FormatTLV, tlvBytes(t, inst), BadRequest},
		{"single-instance object", "/3", FormatTLV, nil, MethodNotAllowed},
		{"text payload", "/1", FormatText, []byte("1"), UnsupportedFormat},
		{"instance path", "/1/0", FormatTLV, nil, BadRequest},
		{"unknown object", "/42", FormatTLV, nil, NotFound},
		{"json", "/1", FormatJSON, []byte(`{"bn":"/1/4/","e":[{"n":"0","v":205},{"n":"1","v":60},{"n":"6","bv":false},{"n":"7","sv":"UQ"}]}`), Created},
	} {
		if _, code := tr.Create(c, mustPath(t, tc.obj), tc.cf, tc.payload); code != tc.want {
			t.Errorf("%s: Create = %s, want %s", tc.name, code, tc.want)
		}
	}
	if !tr.Exists(mustPath(t, "/1/4/7")) {
		t.Errorf("JSON-created instance missing")
	}
	for _, tc := range []struct {
		path string
		want Code
	}{
		{"/1/9", Deleted}, {"/1/9", NotFound}, {"/3/0", MethodNotAllowed}, {"/1", MethodNotAllowed},
		{"/1/1/1", MethodNotAllowed}, {"/0/1", NotFound},
	} {
		if code := tr.Delete(c, mustPath(t, tc.path)); code != tc.want {
			t.Errorf("Delete %s = %s, want %s", tc.path, code, tc.want)
		}
	}
}

func twoServerFactory() Factory {
	f := testFactory()
	s2 := f.Servers[0]
	s2.ShortServerID, s2.URI, s2.SMS, s2.Binding = 102, "coap://dm2.example", nil, "U"
	s2.Security = FactorySecurity{Mode: SecurityModeNoSec}
	f.Servers = append(f.Servers, s2)
	return f
}

func TestAccessControlMultiServer(t *testing.T) {
	e := newTestTree(t, twoServerFactory())
	tr, a, b := e.tree, Server(101), Server(102)
	if _, _, code := tr.Read(a, mustPath(t, "/1/0"), FormatTLV); code != Content {
		t.Errorf("own server instance: %s", code)
	}
	if _, _, code := tr.Read(a, mustPath(t, "/1/1"), FormatTLV); code != Unauthorized {
		t.Errorf("other server's instance: %s", code)
	}
	body, _, _ := tr.Read(a, mustPath(t, "/1"), FormatTLV)
	ts, _ := DecodeTLV(body)
	if len(ts) != 1 || ts[0].ID != 0 {
		t.Errorf("object read shows %d instances", len(ts))
	}
	if code := tr.Execute(a, mustPath(t, "/1/1/8"), nil); code != Unauthorized {
		t.Errorf("execute other's trigger: %s", code)
	}
	if code := tr.Write(b, mustPath(t, "/3/0/15"), WriteReplace, FormatText, []byte("UTC")); code != Changed {
		t.Errorf("device write with RWE grant: %s", code)
	}
	if code := tr.Delete(b, mustPath(t, "/3/0")); code != MethodNotAllowed {
		t.Errorf("device delete: %s", code)
	}
	if _, code := tr.Create(a, ObjectPath(1), FormatTLV, nil); code != Unauthorized {
		t.Errorf("create without C right: %s", code)
	}
	// ACL instances: readable, writable only by their owner.
	if code := tr.Write(a, mustPath(t, "/2/1/3"), WriteReplace, FormatText, []byte("101")); code != Unauthorized {
		t.Errorf("write of another owner's ACL: %s", code)
	}
	if code := tr.Write(a, mustPath(t, "/2/0/2/102"), WriteReplace, FormatText, []byte("1")); code != Changed {
		t.Errorf("owner grants read: %s", code)
	}
	if _, _, code := tr.Read(b, mustPath(t, "/1/0"), FormatTLV); code != Content {
		t.Errorf("granted read: %s", code)
	}
	if code := tr.Write(b, mustPath(t, "/1/0/1"), WriteReplace, FormatText, []byte("60")); code != Unauthorized {
		t.Errorf("write with read-only grant: %s", code)
	}
	// The bootstrap server grants Create on object 1 to 102.
	tr.BootstrapBegin()
	acl := TLVs{intTLV(0, 1), intTLV(1, MaxID), {Kind: TLVMultipleResource, ID: 2, Children: []TLV{{Kind: TLVResourceInstance, ID: 102, Value: []byte{byte(aclCreate)}}}}, intTLV(3, MaxID)}
	if code := tr.Write(Bootstrap, mustPath(t, "/2/9"), WriteReplace, FormatTLV, tlvBytes(t, acl)); code != Changed {
		t.Fatalf("bootstrap ACL write: %s", code)
	}
	if code := tr.BootstrapFinish(); code != Changed {
		t.Fatalf("finish: %s", code)
	}
	p, code := tr.Create(b, ObjectPath(1), FormatTLV, tlvBytes(t, TLVs{intTLV(0, 103), intTLV(1, 60), boolTLV(6, true), strTLV(7, "U")}))
	if code != Created {
		t.Fatalf("create with C right: %s", code)
	}
	// The creator owns the new instance.
	if _, _, code := tr.Read(b, p, FormatTLV); code != Content {
		t.Errorf("creator reads its instance: %s", code)
	}
	if _, _, code := tr.Read(a, p, FormatTLV); code != Unauthorized {
		t.Errorf("other server reads created instance: %s", code)
	}
	if code := tr.Delete(b, p); code != Deleted {
		t.Errorf("creator deletes: %s", code)
	}
	for _, in := range tr.snapshotForTest(AccessControlObjectID) {
		if in.Int(0, -1) == 1 && in.Int(1, -1) == int64(p.Instance()) {
			t.Errorf("ACL of deleted instance kept")
		}
	}
}

func (t *Tree) snapshotForTest(o uint16) []*Instance {
	t.mu.Lock()
	defer t.mu.Unlock()
	return sortedInstances(t.snapshotLocked()[o])
}

func TestWriteAttributesAndDiscover(t *testing.T) {
	tr := specTree(t)
	c := Server(101)
	for _, tc := range []struct {
		path  string
		query []string
		want  Code
	}{
		{"/3", []string{"pmin=10"}, Changed},
		{"/3/0", []string{"pmax=60"}, Changed},
		{"/3/0/9", []string{"gt=50", "lt=42.2"}, Changed},
		{"/3/0/9", []string{"st=5"}, BadRequest}, // 42.2 + 2·5 ≥ 50
		{"/3/0/9", []string{"st=2"}, Changed},
		{"/3/0", []string{"gt=1"}, BadRequest},
		{"/3/0/0", []string{"gt=1"}, BadRequest},
		{"/3/0/6", []string{"gt=1"}, BadRequest},
		{"/3/0/9", []string{"cancel"}, BadRequest},
		{"/3/0/9", []string{"pmin=-1"}, BadRequest},
		{"/3/0/9", []string{"pmin=1", "pmin=2"}, BadRequest},
		{"/3/0/20", []string{"pmin=1"}, NotFound},
		{"/0/0", []string{"pmin=1"}, NotFound},
		{"/", []string{"pmin=1"}, MethodNotAllowed},
	} {
		if code := tr.WriteAttributes(c, mustPath(t, tc.path), tc.query); code != tc.want {
			t.Errorf("WriteAttributes %s %v = %s, want %s", tc.path, tc.query, code, tc.want)
		}
	}
	eff := tr.EffectiveAttributes(101, mustPath(t, "/3/0/9"))
	if eff.Pmin != 10 || eff.Pmax != 60 || eff.GT != 50 || eff.LT != 42.2 || eff.ST != 2 || eff.Has != AttrPmin|AttrPmax|AttrGT|AttrLT|AttrST {
		t.Errorf("effective = %+v", eff)
	}
	if other := tr.EffectiveAttributes(102, mustPath(t, "/3/0/9")); other.Has != 0 {
		t.Errorf("attributes leaked to another server: %+v", other)
	}
	b, code := tr.Discover(c, mustPath(t, "/3/0/9"))
	if want := `</3/0/9>;pmin=10;pmax=60;gt=50;lt=42.2;st=2`; code != Content || string(b) != want {
		t.Errorf("discover resource = %s %s, want %s", b, code, want)
	}
	b, _ = tr.Discover(c, mustPath(t, "/3/0/7"))
	if want := `</3/0/7>;dim=2;pmin=10;pmax=60`; string(b) != want {
		t.Errorf("discover multiple = %s, want %s", b, want)
	}
	b, _ = tr.Discover(c, mustPath(t, "/3/0"))
	if want := `</3/0>;pmax=60,</3/0/0>,</3/0/1>,</3/0/2>,</3/0/3>,</3/0/4>,</3/0/5>,</3/0/6>;dim=2,</3/0/7>;dim=2,</3/0/8>;dim=2,</3/0/9>;gt=50;lt=42.2;st=2,</3/0/10>,</3/0/11>;dim=1,</3/0/12>,</3/0/13>,</3/0/14>,</3/0/16>`; string(b) != want {
		t.Errorf("discover instance =\n%s\nwant\n%s", b, want)
	}
	b, _ = tr.Discover(c, mustPath(t, "/3"))
	if !strings.HasPrefix(string(b), `</3>;pmin=10,</3/0>;pmax=60,</3/0/0>`) {
		t.Errorf("discover object = %s", b)
	}
	// Clearing: a name without a value.
	if code := tr.WriteAttributes(c, mustPath(t, "/3/0/9"), []string{"gt", "lt", "st"}); code != Changed {
		t.Fatal(code)
	}
	if eff := tr.EffectiveAttributes(101, mustPath(t, "/3/0/9")); eff.Has&(AttrGT|AttrLT|AttrST) != 0 {
		t.Errorf("not cleared: %+v", eff)
	}
	// Server defaults (resources 2/3) under the written ones.
	if code := tr.Write(c, mustPath(t, "/1/0"), WriteUpdate, FormatTLV, tlvBytes(t, TLVs{intTLV(2, 7), intTLV(3, 99)})); code != Changed {
		t.Fatal(code)
	}
	if eff := tr.EffectiveAttributes(101, mustPath(t, "/1/0/1")); eff.Pmin != 7 || eff.Pmax != 99 {
		t.Errorf("server defaults not applied: %+v", eff)
	}
	tr.ForgetAttributes(101)
	if eff := tr.EffectiveAttributes(101, mustPath(t, "/3/0/9")); eff.Has&AttrGT != 0 || eff.Pmin != 7 {
		t.Errorf("after ForgetAttributes: %+v", eff)
	}
}

func TestRegistrationLinks(t *testing.T) {
	e := newTestTree(t, testFactory())
	if got, want := string(e.tree.RegistrationLinks()), `</1/0>,</2>,</3/0>`; got != want {
		t.Errorf("links = %s, want %s", got, want)
	}
	tr := specTree(t)
	if got, want := string(tr.RegistrationLinks()), `</1/0>,</2>,</3/0>,</4/0>`; got != want {
		t.Errorf("links with modem = %s, want %s", got, want)
	}
}

func TestExecuteHooks(t *testing.T) {
	var rebooted, reset int
	var disabled []time.Duration
	tr, err := New(Config{Factory: testFactory(), Hooks: Hooks{
		Reboot:       func() { rebooted++ },
		FactoryReset: func() { reset++ },
		Disable:      func(ssid uint16, d time.Duration) { disabled = append(disabled, d) },
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := Server(101)
	for _, tc := range []struct {
		path string
		args string
		want Code
	}{
		{"/3/0/4", "", Changed}, {"/3/0/5", "", Changed}, {"/1/0/4", "", Changed},
		{"/1/0/8", "", MethodNotAllowed}, // no hook wired
		{"/3/0/4", "0='x", BadRequest}, {"/3/0/0", "", MethodNotAllowed}, {"/3/0", "", MethodNotAllowed},
		{"/3/0/99", "", NotFound}, {"/1/5/8", "", NotFound}, {"/0/0/1", "", NotFound},
	} {
		if code := tr.Execute(c, mustPath(t, tc.path), []byte(tc.args)); code != tc.want {
			t.Errorf("Execute %s %q = %s, want %s", tc.path, tc.args, code, tc.want)
		}
	}
	if rebooted != 1 || reset != 1 || len(disabled) != 1 || disabled[0] != 86400*time.Second {
		t.Errorf("hooks: reboot %d reset %d disable %v", rebooted, reset, disabled)
	}
	if code := tr.Execute(Bootstrap, mustPath(t, "/3/0/4"), nil); code != MethodNotAllowed {
		t.Errorf("bootstrap execute: %s", code)
	}
}

func TestErrorCodes(t *testing.T) {
	e := newTestTree(t, testFactory())
	tr := e.tree
	read := func() string {
		b, _, _ := tr.Read(Server(101), mustPath(t, "/3/0/11"), FormatJSON)
		return string(b)
	}
	if got := read(); got != `{"bn":"/3/0/","e":[{"n":"11/0","v":0}]}` {
		t.Errorf("no errors: %s", got)
	}
	tr.RaiseError(ErrorLowSignal)
	tr.RaiseError(ErrorSMS)
	tr.RaiseError(ErrorSMS)
	if got := read(); got != `{"bn":"/3/0/","e":[{"n":"11/0","v":4},{"n":"11/1","v":6}]}` {
		t.Errorf("two errors: %s", got)
	}
	if code := tr.Execute(Server(101), mustPath(t, "/3/0/12"), nil); code != Changed {
		t.Fatal(code)
	}
	if got := read(); got != `{"bn":"/3/0/","e":[{"n":"11/0","v":0}]}` {
		t.Errorf("after reset: %s", got)
	}
}

func TestConnectivityMonitoring(t *testing.T) {
	m := &fakeModem{conn: Connectivity{NetworkBearer: i64(6), AvailableBearers: []int64{0, 2, 6}, RadioSignalStrength: i64(-97),
		IPAddresses: []string{"10.0.0.2"}, CellID: i64(0x1A2B3C4), SMCC: i64(208), SMNC: i64(1), LAC: i64(0x2F01)}}
	tr, err := New(Config{Factory: testFactory(), Modem: m})
	if err != nil {
		t.Fatal(err)
	}
	b, _, code := tr.Read(Server(101), mustPath(t, "/4/0"), FormatJSON)
	want := `{"bn":"/4/0/","e":[{"n":"0","v":6},{"n":"1/0","v":0},{"n":"1/1","v":2},{"n":"1/2","v":6},{"n":"2","v":-97},{"n":"4/0","sv":"10.0.0.2"},{"n":"8","v":27440068},{"n":"9","v":1},{"n":"10","v":208},{"n":"12","v":12033}]}`
	if code != Content || string(b) != want {
		t.Errorf("read /4/0 = %s\nwant %s", b, want)
	}
	if code := tr.Delete(Server(101), mustPath(t, "/4/0")); code != MethodNotAllowed {
		t.Errorf("delete /4/0 = %s", code)
	}
}

func TestSecurityValidation(t *testing.T) {
	e := newTestTree(t, testFactory())
	tr := e.tree
	tr.BootstrapBegin()
	for _, tc := range []struct {
		path    string
		cf      ContentFormat
		payload []byte
		want    Code
	}{
		{"/0/1/6", FormatText, []byte("0"), BadRequest},
		{"/0/1/6", FormatText, []byte("4"), BadRequest},
		{"/0/1/6", FormatText, []byte("100"), BadRequest},
		{"/0/1/6", FormatText, []byte("203"), BadRequest},
		{"/0/1/6", FormatText, []byte("256"), BadRequest},
		{"/0/1/6", FormatText, []byte("204"), Changed},
		{"/0/1/6", FormatText, []byte("1"), Changed},
		{"/0/1/8", FormatOpaque, make([]byte, 20), BadRequest},
		{"/0/1/8", FormatOpaque, make([]byte, 16), Changed},
		{"/0/1/10", FormatText, []byte("0"), BadRequest},
		{"/0/1/10", FormatText, []byte("65535"), BadRequest},
		{"/0/1/9", FormatText, []byte("+33 6"), BadRequest},
		{"/0/1/9", FormatText, []byte("33612345678"), Changed},
		{"/0/1/2", FormatText, []byte("5"), BadRequest},
		{"/0/1/99", FormatText, []byte("5"), Changed}, // unsupported resources are ignored in bootstrap
	} {
		if code := tr.Write(Bootstrap, mustPath(t, tc.path), WriteReplace, tc.cf, tc.payload); code != tc.want {
			t.Errorf("bootstrap Write %s %q = %s, want %s", tc.path, tc.payload, code, tc.want)
		}
	}
	// Mode 2 needs 7-byte key parameters (PROJECT DEFAULT, lwm2m.md §2.3).
	tr.Write(Bootstrap, mustPath(t, "/0/1/6"), WriteReplace, FormatText, []byte("2"))
	tr.Write(Bootstrap, mustPath(t, "/0/1/7"), WriteReplace, FormatOpaque, []byte{1, 2, 3, 4, 5, 6})
	if code := tr.BootstrapFinish(); code != NotAcceptable {
		t.Errorf("finish with 6-byte key parameters = %s", code)
	}
	tr.Write(Bootstrap, mustPath(t, "/0/1/7"), WriteReplace, FormatOpaque, []byte{1, 2, 3, 4, 5, 6, 7})
	if code := tr.BootstrapFinish(); code != Changed {
		t.Errorf("finish with 7-byte key parameters = %s", code)
	}
	// The length set is configurable.
	tr2, err := New(Config{Factory: testFactory(), Options: Options{SMSKeyParamLengths: []int{6, 7}}})
	if err != nil {
		t.Fatal(err)
	}
	tr2.BootstrapBegin()
	tr2.Write(Bootstrap, mustPath(t, "/0/1/7"), WriteReplace, FormatOpaque, []byte{1, 2, 3, 4, 5, 6})
	if code := tr2.BootstrapFinish(); code != Changed {
		t.Errorf("6 bytes with configured lengths = %s", code)
	}
}

func TestBootstrapSession(t *testing.T) {
	e := newTestTree(t, testFactory())
	tr := e.tree
	b, code := tr.Discover(Bootstrap, RootPath)
	if want := `</>;lwm2m="1.0",</0/0>,</0/1>;ssid=101,</1/0>;ssid=101,</2>,</3/0>`; code != Content || string(b) != want {
		t.Errorf("bootstrap discover = %s, want %s", b, want)
	}
	if _, _, code := tr.Read(Bootstrap, mustPath(t, "/0/1"), FormatTLV); code != MethodNotAllowed {
		t.Errorf("bootstrap read = %s", code)
	}
	tr.BootstrapBegin()
	if code := tr.Delete(Bootstrap, RootPath); code != Deleted {
		t.Fatalf("delete / = %s", code)
	}
	b, _ = tr.Discover(Bootstrap, RootPath)
	if want := `</>;lwm2m="1.0",</0/0>,</1>,</2>,</3/0>`; string(b) != want {
		t.Errorf("after delete / = %s, want %s", b, want)
	}
	// Nothing stored yet: a crash now would restart with the old accounts.
	if tr2, err := New(Config{Store: e.st, Factory: testFactory()}); err != nil || len(tr2.Servers()) != 1 {
		t.Fatalf("state written before Bootstrap-Finish")
	}
	if code := tr.BootstrapFinish(); code != NotAcceptable {
		t.Errorf("finish without a server = %s", code)
	}
	psk := bytes.Repeat([]byte{7}, 16)
	sec := TLVs{{Kind: TLVObjectInstance, ID: 5, Children: []TLV{
		strTLV(0, "coaps://new.example:5684"), boolTLV(1, false), intTLV(2, 0), strTLV(3, "new-id"),
		{Kind: TLVResource, ID: 4, Value: []byte{}}, {Kind: TLVResource, ID: 5, Value: psk}, intTLV(10, 300),
	}}}
	if code := tr.Write(Bootstrap, ObjectPath(0), WriteReplace, FormatTLV, tlvBytes(t, sec)); code != Changed {
		t.Fatalf("object-level security write = %s", code)
	}
	if code := tr.BootstrapFinish(); code != NotAcceptable {
		t.Errorf("finish with security but no server = %s", code)
	}
	srv := TLVs{intTLV(0, 300), intTLV(1, 86400), boolTLV(6, true), strTLV(7, "U")}
	if code := tr.Write(Bootstrap, mustPath(t, "/1/0"), WriteReplace, FormatTLV, tlvBytes(t, srv)); code != Changed {
		t.Fatalf("server write = %s", code)
	}
	if code := tr.BootstrapFinish(); code != Changed {
		t.Fatalf("finish = %s", code)
	}
	accts := tr.Servers()
	if len(accts) != 1 || accts[0].ShortServerID != 300 || !bytes.Equal(accts[0].PSK.Bytes(), psk) || accts[0].URI != "coaps://new.example:5684" {
		t.Fatalf("accounts after bootstrap: %+v", accts)
	}
	if _, ok := tr.BootstrapServer(); !ok {
		t.Errorf("bootstrap account deleted by Delete /")
	}
	// Stored state wins over the configuration now, even a changed one.
	changed := testFactory()
	changed.Servers[0].Lifetime = time.Minute
	tr3, err := New(Config{Store: e.st, Factory: changed})
	if err != nil || len(tr3.Servers()) != 1 || tr3.Servers()[0].ShortServerID != 300 {
		t.Fatalf("bootstrap-written state lost on restart: %v", err)
	}
	// The deliberate reset returns to the configuration.
	if err := ResetState(e.st); err != nil {
		t.Fatal(err)
	}
	tr4, err := New(Config{Store: e.st, Factory: changed})
	if err != nil || tr4.Servers()[0].ShortServerID != 101 || tr4.Servers()[0].Lifetime != time.Minute {
		t.Fatalf("after reset: %v %+v", err, tr4.Servers())
	}
}

func TestBootstrapAbortKeepsOldState(t *testing.T) {
	e := newTestTree(t, testFactory())
	tr := e.tree
	// No explicit BootstrapBegin: a server-initiated bootstrap starts with
	// a Delete or Write, which opens the session itself.
	tr.Delete(Bootstrap, RootPath)
	if !tr.InBootstrap() {
		t.Fatalf("bootstrap delete did not open a session")
	}
	if tr2, err := New(Config{Store: e.st, Factory: testFactory()}); err != nil || len(tr2.Servers()) != 1 {
		t.Fatalf("bootstrap delete reached the store before Finish")
	}
	tr.BootstrapAbort()
	if s := tr.Servers(); len(s) != 1 || s[0].ShortServerID != 101 {
		t.Fatalf("abort did not restore: %+v", s)
	}
	if tr.InBootstrap() {
		t.Errorf("session still open")
	}
}

func TestFactoryAndStoredState(t *testing.T) {
	st := &store.Mem{}
	tr, err := New(Config{Store: st, Factory: testFactory()})
	if err != nil {
		t.Fatal(err)
	}
	tr.Write(Server(101), mustPath(t, "/1/0/1"), WriteReplace, FormatText, []byte("42"))
	// Same configuration: the server's write survives.
	tr2, _ := New(Config{Store: st, Factory: testFactory()})
	if tr2.Servers()[0].Lifetime != 42*time.Second {
		t.Errorf("server-written lifetime lost")
	}
	// Configuration edited: rebuilt from it.
	f := testFactory()
	f.Servers[0].URI = "coaps://moved.example"
	tr3, err := New(Config{Store: st, Factory: f})
	if err != nil {
		t.Fatal(err)
	}
	if s := tr3.Servers()[0]; s.URI != "coaps://moved.example" || s.Lifetime != time.Hour {
		t.Errorf("edited configuration not applied: %+v", s)
	}
	// A damaged document refuses to start rather than resetting.
	st.WriteState(StateKey, []byte(`{"version":99}`))
	if _, err := New(Config{Store: st, Factory: f}); err == nil {
		t.Errorf("unreadable state accepted")
	}
	// An invalid factory input is refused.
	bad := testFactory()
	bad.Servers[0].Security.PSK = Secret{}
	if _, err := New(Config{Factory: bad}); err == nil || !errors.Is(err, errInconsistent) {
		t.Errorf("coaps without PSK accepted: %v", err)
	}
	dup := twoServerFactory()
	dup.Servers[1].ShortServerID = 101
	if _, err := New(Config{Factory: dup}); err == nil {
		t.Errorf("duplicate short server id accepted")
	}
}

func TestFileStoreIntegration(t *testing.T) {
	st, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Store: st, Factory: testFactory()}); err != nil {
		t.Fatal(err)
	}
	tr, err := New(Config{Store: st, Factory: testFactory()})
	if err != nil || !tr.Servers()[0].PSK.Equal(testPSK) {
		t.Fatalf("reload from file store: %v", err)
	}
}

func TestDeviceTimeDefaults(t *testing.T) {
	zone := time.FixedZone("CEST", 2*3600)
	tr, err := New(Config{Factory: testFactory(), Now: func() time.Time { return time.Unix(1367491215, 0).In(zone) },
		Options: Options{Device: DeviceInfo{Timezone: "Europe/Paris"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ValueOf(t, tr, "/3/0/14"); got != "+02:00" {
		t.Errorf("utc offset = %q", got)
	}
	if got := ValueOf(t, tr, "/3/0/15"); got != "Europe/Paris" {
		t.Errorf("timezone = %q", got)
	}
	if code := tr.Write(Server(101), mustPath(t, "/3/0/15"), WriteReplace, FormatText, []byte("UTC")); code != Changed {
		t.Fatal(code)
	}
	if got := ValueOf(t, tr, "/3/0/15"); got != "UTC" {
		t.Errorf("written timezone does not win: %q", got)
	}
}

func TestFloatMustBeFinite(t *testing.T) {
	rd := ResourceDef{ID: 1, Type: TypeFloat}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if err := rd.Validate(FloatValue(f)); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("%v accepted: %v", f, err)
		}
	}
	if err := rd.Validate(FloatValue(-0.5)); err != nil {
		t.Error(err)
	}
}

func TestSMSBindingNeedsNumber(t *testing.T) {
	f := testFactory()
	f.Servers[0].SMS = nil
	f.Servers[0].Binding = "U"
	tr, err := New(Config{Factory: f})
	if err != nil {
		t.Fatal(err)
	}
	if code := tr.Write(Server(101), mustPath(t, "/1/0/7"), WriteReplace, FormatText, []byte("UQS")); code != BadRequest {
		t.Errorf("UQS without sms number = %s", code)
	}
	if code := tr.Write(Server(101), mustPath(t, "/1/0/7"), WriteReplace, FormatText, []byte("UQ")); code != Changed {
		t.Errorf("UQ = %s", code)
	}
	e := newTestTree(t, testFactory()) // has an SMS number
	if code := e.tree.Write(Server(101), mustPath(t, "/1/0/7"), WriteReplace, FormatText, []byte("S")); code != Changed {
		t.Errorf("S with sms number = %s", code)
	}
}

// failingStore refuses writes once armed.
type failingStore struct {
	store.Mem
	fail bool
}

func (s *failingStore) WriteState(key string, v []byte) error {
	if s.fail {
		return errors.New("disk full")
	}
	return s.Mem.WriteState(key, v)
}

func TestStoreFailureRollsBack(t *testing.T) {
	st := &failingStore{}
	tr, err := New(Config{Store: st, Factory: testFactory()})
	if err != nil {
		t.Fatal(err)
	}
	st.fail = true
	if code := tr.Write(Server(101), mustPath(t, "/1/0/1"), WriteReplace, FormatText, []byte("5")); code != InternalServerError {
		t.Errorf("write with failing store = %s", code)
	}
	if v := ValueOf(t, tr, "/1/0/1"); v != "3600" {
		t.Errorf("memory changed although the store refused: %s", v)
	}
	if code := tr.Delete(Server(101), mustPath(t, "/1/0")); code != InternalServerError || !tr.Exists(mustPath(t, "/1/0")) {
		t.Errorf("delete with failing store = %s", code)
	}
	tr.BootstrapBegin()
	tr.Write(Bootstrap, mustPath(t, "/1/0/1"), WriteReplace, FormatText, []byte("77"))
	if code := tr.BootstrapFinish(); code != InternalServerError || !tr.InBootstrap() {
		t.Errorf("finish with failing store = %s (session open %v)", code, tr.InBootstrap())
	}
	st.fail = false
	if code := tr.BootstrapFinish(); code != Changed {
		t.Errorf("finish after the store recovered = %s", code)
	}
	if tr2, err := New(Config{Store: st, Factory: testFactory()}); err != nil || tr2.Servers()[0].Lifetime != 77*time.Second {
		t.Errorf("committed state not stored: %v", err)
	}
}

func TestFactoryValuesValidated(t *testing.T) {
	for name, mut := range map[string]func(*Factory){
		"binding":         func(f *Factory) { f.Servers[0].Binding = "T" },
		"short server id": func(f *Factory) { f.Servers[0].ShortServerID = 0 },
		"lifetime":        func(f *Factory) { f.Servers[0].Lifetime = 0 },
		"sms mode":        func(f *Factory) { f.Servers[0].SMS.SecurityMode = 4 },
		"sms key length":  func(f *Factory) { f.Servers[0].SMS.SecretKey = NewSecret(make([]byte, 20)) },
		"sms number":      func(f *Factory) { f.Servers[0].SMS.Number = "call me" },
		"key parameters":  func(f *Factory) { f.Servers[0].SMS.KeyParameters = []byte{1, 2, 3, 4, 5, 6} },
		"uri":             func(f *Factory) { f.Servers[0].URI = "http://x" },
	} {
		f := testFactory()
		mut(&f)
		if _, err := New(Config{Factory: f}); err == nil {
			t.Errorf("%s: invalid factory input accepted", name)
		} else if strings.Contains(err.Error(), "0123456789abcdef") {
			t.Errorf("%s: error shows key material: %v", name, err)
		}
	}
}

func TestDefinitionsAreCopies(t *testing.T) {
	tr, _ := New(Config{Factory: testFactory()})
	defs := tr.Definitions()
	if len(defs) != 4 || defs[0].ID != SecurityObjectID || defs[3].ID != DeviceObjectID {
		t.Fatalf("definitions %d", len(defs))
	}
	defs[0].Resources[5].Secret = false
	if rd, _ := tr.defs[0].Resource(5); !rd.Secret {
		t.Fatalf("caller changed the tree's definitions")
	}
}

func TestSecurityInstanceRules(t *testing.T) {
	base := func(uri string, mode int64) *Instance {
		in := &Instance{ID: 1}
		in.Set(SingleResource(0, StringValue(uri)))
		in.Set(SingleResource(1, BoolValue(false)))
		in.Set(SingleResource(2, IntValue(mode)))
		in.Set(SingleResource(10, IntValue(101)))
		return in
	}
	with := func(in *Instance, rs ...Resource) *Instance {
		for _, r := range rs {
			in.Set(r)
		}
		return in
	}
	psk := []Resource{SingleResource(3, OpaqueValue([]byte("id"))), SingleResource(5, OpaqueValue([]byte("k")))}
	sms := func(mode int64) []Resource {
		return []Resource{SingleResource(6, IntValue(mode)), SingleResource(9, StringValue("33612345678"))}
	}
	for _, tc := range []struct {
		name string
		in   *Instance
		ok   bool
	}{
		{"coap nosec", base("coap://h", SecurityModeNoSec), true},
		{"coap with psk mode", with(base("coap://h", SecurityModePSK), psk...), false},
		{"coaps psk", with(base("coaps://h", SecurityModePSK), psk...), true},
		{"coaps without key", base("coaps://h", SecurityModePSK), false},
		{"coaps certificate mode", base("coaps://h", SecurityModeCertificate), false},
		{"sms uri", base("sms://33612345678", SecurityModeNoSec), true},
		{"tel uri", base("tel:+33612345678", SecurityModeNoSec), true},
		{"http uri", base("http://h", SecurityModeNoSec), false},
		{"no short server id", func() *Instance { in := base("coap://h", 3); delete(in.Resources, 10); return in }(), false},
		{"bootstrap without short server id", func() *Instance {
			in := base("coap://h", 3)
			delete(in.Resources, 10)
			in.Set(SingleResource(1, BoolValue(true)))
			return in
		}(), true},
		{"sms mode without number", with(base("coap://h", 3), SingleResource(6, IntValue(3))), false},
		{"sms nosec", with(base("coap://h", 3), sms(SMSModeNoSec)...), true},
		{"sms dtls without any psk", with(base("coap://h", 3), sms(SMSModeDTLS)...), false},
		{"sms dtls with 7/8", with(base("coap://h", 3), append(sms(SMSModeDTLS), SingleResource(7, OpaqueValue([]byte("id"))), SingleResource(8, OpaqueValue(make([]byte, 16))))...), true},
		{"sms dtls with 3/5", with(base("coaps://h", SecurityModePSK), append(sms(SMSModeDTLS), psk...)...), true},
		{"sms secure packet without keys", with(base("coap://h", 3), append(sms(SMSModeSecurePacket), SingleResource(7, OpaqueValue(make([]byte, 7))))...), false},
	} {
		err := checkSecurityInstance(tc.in, DefaultSMSKeyParamLengths)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestValueAccessor(t *testing.T) {
	tr := specTree(t)
	if r, ok := tr.Value(mustPath(t, "/3/0/7/1")); !ok || r.Value.Int() != 5000 {
		t.Errorf("resource instance value = %+v %v", r, ok)
	}
	if r, ok := tr.Value(mustPath(t, "/3/0/7")); !ok || !r.Multiple || len(r.Instances) != 2 {
		t.Errorf("multiple resource value = %+v %v", r, ok)
	}
	for _, p := range []string{"/0/1/5", "/0/1/8", "/3/0", "/3/0/7/9", "/3/0/21", "/9/0/0", "/3/4/0"} {
		if _, ok := tr.Value(mustPath(t, p)); ok {
			t.Errorf("Value(%s) returned something", p)
		}
	}
	if v, ok := tr.Value(mustPath(t, "/0/1/0")); !ok || v.Value.Str() != "coaps://dm.example:5684" {
		t.Errorf("Value(/0/1/0) = %v %v", v, ok)
	}
	if !tr.Exists(mustPath(t, "/3/0/7/1")) || tr.Exists(mustPath(t, "/3/0/7/5")) || !tr.Exists(RootPath) || tr.Exists(mustPath(t, "/8")) {
		t.Errorf("Exists wrong")
	}
	var got []Change
	tr2, _ := New(Config{Factory: testFactory(), Hooks: Hooks{OnChange: func(c []Change) { got = append(got, c...) }}})
	tr2.NotifyChanged(mustPath(t, "/4/0/2"))
	if len(got) != 1 || got[0].Path.String() != "/4/0/2" || got[0].Kind != ChangeValue {
		t.Errorf("NotifyChanged = %+v", got)
	}
}
