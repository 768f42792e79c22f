package objects

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// specDeviceJSON is the "Read /3/0" JSON example of LwM2M-TS 1.0 §6.4.4,
// compacted (the example's last entry names resource 15 with the value
// "U"; the TLV example has it as resource 16).
const specDeviceJSON = `{"bn":"/3/0/","e":[{"n":"0","sv":"Open Mobile Alliance"},{"n":"1","sv":"Lightweight M2M Client"},{"n":"2","sv":"345000123"},{"n":"3","sv":"1.0"},{"n":"6/0","v":1},{"n":"6/1","v":5},{"n":"7/0","v":3800},{"n":"7/1","v":5000},{"n":"8/0","v":125},{"n":"8/1","v":900},{"n":"9","v":100},{"n":"10","v":15},{"n":"11/0","v":0},{"n":"13","v":1367491215},{"n":"14","sv":"+02:00"},{"n":"15","sv":"U"}]}`

func TestJSONVectors(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		entries   int
	}{
		{name: "device /3/0 (§6.4.4)", doc: specDeviceJSON, entries: 16},
		{name: "single resource", doc: `{"bn":"/3/0/","e":[{"n":"13","v":1367491215}]}`, entries: 1},
		{name: "objlnk, boolean, float, time", doc: `{"bn":"/","bt":25462634,"e":[{"n":"1/0/6","bv":true},{"n":"5/0/1","ov":"3:0","t":-5},{"n":"6/0/0","v":-1.5e+20}]}`, entries: 3},
		{name: "no base name", doc: `{"e":[{"n":"/3/0/0","sv":"x"}]}`, entries: 1},
		{name: "escapes", doc: `{"bn":"/3/0/","e":[{"n":"0","sv":"a\"b\\c\u0001"}]}`, entries: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := DecodeJSON([]byte(tc.doc))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(doc.Entries) != tc.entries {
				t.Fatalf("%d entries", len(doc.Entries))
			}
			enc, err := doc.Append(nil)
			if err != nil || string(enc) != tc.doc {
				t.Fatalf("re-encode = %s (%v)\nwant        %s", enc, err, tc.doc)
			}
			for n := 1; n < len(tc.doc); n++ {
				if _, err := DecodeJSON([]byte(tc.doc[:n])); err == nil {
					t.Errorf("strict prefix %q decoded", tc.doc[:n])
				}
			}
		})
	}
}

func TestJSONDecodeErrors(t *testing.T) {
	for _, doc := range []string{
		``, `[]`, `{}`, `{"e":[{"n":"0"}]}`, `{"e":[{"n":"0","v":1,"sv":"x"}]}`,
		`{"e":[{"n":"0","x":1}]}`, `{"bn":"/","e":[]} x`, `{"e":[{"v":01}]}`, `{"e":{}}`,
	} {
		_, err := DecodeJSON([]byte(doc))
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Errorf("%q: err = %v, want *DecodeError", doc, err)
		}
	}
}

func TestJSONDeviceVectorIntoTree(t *testing.T) {
	// The spec document written as a payload by the bootstrap path lands
	// as typed values (resources the Device object keeps live are
	// overridden on read, so check through the decoder).
	def := deviceDef(&Tree{})
	doc, err := DecodeJSON([]byte(specDeviceJSON))
	if err != nil {
		t.Fatal(err)
	}
	d, err := jsonToInstances(def, InstancePath(3, 0), doc)
	if err != nil {
		t.Fatal(err)
	}
	in := d.instances[0]
	if in.Str(0, "") != "Open Mobile Alliance" || in.Int(13, 0) != 1367491215 || in.Str(15, "") != "U" {
		t.Errorf("values %+v", in.Resources)
	}
	if r := in.Resources[7]; !r.Multiple || r.Instances[1].Int() != 5000 {
		t.Errorf("resource 7 = %+v", r)
	}
}

// fakeModem reports the live values of the §6.4.3.1 example.
type fakeModem struct {
	dev  DeviceStatus
	conn Connectivity
}

func (m *fakeModem) DeviceStatus() DeviceStatus { return m.dev }
func (m *fakeModem) Connectivity() Connectivity { return m.conn }

func i64(v int64) *int64 { return &v }

// specTree is a tree whose Device object holds exactly the values of the
// §6.4.3.1 / §6.4.4 examples.
func specTree(tb testing.TB) *Tree {
	tb.Helper()
	tr, err := New(Config{
		Now:     func() time.Time { return time.Unix(1367491215, 0) },
		Factory: testFactory(),
		Options: Options{SupportedBindings: "U", Device: DeviceInfo{Manufacturer: "Open Mobile Alliance", Model: "Lightweight M2M Client", Serial: "345000123", Firmware: "1.0"}},
		Modem: &fakeModem{dev: DeviceStatus{
			PowerSources: []PowerSource{{Type: 1, VoltageMV: i64(3800), CurrentMA: i64(125)}, {Type: 5, VoltageMV: i64(5000), CurrentMA: i64(900)}},
			BatteryLevel: i64(100), MemoryFreeKB: i64(15),
		}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	if code := tr.Write(Server(101), mustPath(tb, "/3/0/14"), WriteReplace, FormatText, []byte("+02:00")); code != Changed {
		tb.Fatalf("write utc offset: %s", code)
	}
	return tr
}

func TestReadDeviceMatchesSpecExamples(t *testing.T) {
	tr := specTree(t)
	b, cf, code := tr.Read(Server(101), mustPath(t, "/3/0"), NoFormat)
	if code != Content || cf != FormatTLV {
		t.Fatalf("read = %s %s", cf, code)
	}
	if want := unhex(t, deviceTLV); !bytes.Equal(b, want) {
		t.Fatalf("TLV read /3/0\n got % X\nwant % X", b, want)
	}
	b, cf, code = tr.Read(Server(101), mustPath(t, "/3/0"), FormatJSON)
	want := strings.Replace(specDeviceJSON, `{"n":"15","sv":"U"}`, `{"n":"16","sv":"U"}`, 1)
	if code != Content || cf != FormatJSON || string(b) != want {
		t.Fatalf("JSON read /3/0 = %s\nwant %s", b, want)
	}
	// Legacy Accept numbers answer in kind.
	if b2, cf, code := tr.Read(Server(101), mustPath(t, "/3/0"), FormatLegacyTLV); code != Content || cf != FormatLegacyTLV || !bytes.Equal(b2, unhex(t, deviceTLV)) {
		t.Errorf("legacy TLV read: %s %s", cf, code)
	}
}

func TestReadFormatsPerLevel(t *testing.T) {
	tr := specTree(t)
	c := Server(101)
	for _, tc := range []struct {
		path   string
		accept ContentFormat
		want   string
		cf     ContentFormat
		code   Code
	}{
		{path: "/3/0/9", accept: NoFormat, want: "100", cf: FormatText, code: Content},
		{path: "/3/0/9", accept: FormatTLV, want: "\xC1\x09\x64", cf: FormatTLV, code: Content},
		{path: "/3/0/9", accept: FormatJSON, want: `{"bn":"/3/0/","e":[{"n":"9","v":100}]}`, cf: FormatJSON, code: Content},
		{path: "/3/0/9", accept: FormatOpaque, code: NotAcceptable},
		{path: "/3/0/9", accept: FormatLegacyText, want: "100", cf: FormatLegacyText, code: Content},
		{path: "/3/0/9", accept: ContentFormat(60), code: NotAcceptable},
		{path: "/3/0/9", accept: FormatLink, code: NotAcceptable},
		{path: "/3/0/6", accept: FormatText, code: NotAcceptable},
		{path: "/3/0/6", accept: NoFormat, want: "\x86\x06\x41\x00\x01\x41\x01\x05", cf: FormatTLV, code: Content},
		{path: "/3/0/6/1", accept: NoFormat, want: "5", cf: FormatText, code: Content},
		{path: "/3/0/6/1", accept: FormatTLV, want: "\x41\x01\x05", cf: FormatTLV, code: Content},
		{path: "/3/0/6/1", accept: FormatJSON, want: `{"bn":"/3/0/","e":[{"n":"6/1","v":5}]}`, cf: FormatJSON, code: Content},
		{path: "/3/0/6/7", accept: NoFormat, code: NotFound},
		{path: "/3/0", accept: FormatText, code: NotAcceptable},
		{path: "/3/0/4", accept: NoFormat, code: MethodNotAllowed},
		{path: "/3/0/22", accept: NoFormat, code: NotFound},
		{path: "/3/0/12", accept: NoFormat, code: MethodNotAllowed},
		{path: "/3/1", accept: NoFormat, code: NotFound},
		{path: "/9", accept: NoFormat, code: NotFound},
		{path: "/", accept: NoFormat, code: MethodNotAllowed},
		{path: "/1/0/7", accept: NoFormat, want: "UQS", cf: FormatText, code: Content},
		{path: "/1/0/6", accept: NoFormat, want: "1", cf: FormatText, code: Content},
		{path: "/1/0/1", accept: FormatTLV, want: "\xC2\x01\x0E\x10", cf: FormatTLV, code: Content},
	} {
		b, cf, code := tr.Read(c, mustPath(t, tc.path), tc.accept)
		if code != tc.code || (code == Content && (string(b) != tc.want || cf != tc.cf)) {
			t.Errorf("Read %s accept %s = %q %s %s; want %q %s %s", tc.path, tc.accept, b, cf, code, tc.want, tc.cf, tc.code)
		}
	}
	// An object without instances reads as an empty payload.
	tr2, _ := New(Config{})
	if b, _, code := tr2.Read(Server(1), mustPath(t, "/2"), FormatTLV); code != Content || len(b) != 0 {
		t.Errorf("empty object read = %q %s", b, code)
	}
}

func TestJSONEveryTypeRoundTrip(t *testing.T) {
	for _, v := range []Value{
		StringValue("x\"y"), IntValue(-750), FloatValue(42.5), FloatValue(1e300), BoolValue(true),
		OpaqueValue([]byte{0, 0xff}), UnixValue(1367491215), ObjlnkValue(Objlnk{Object: 65535, Instance: 65535}),
	} {
		e, err := NewJSONEntry("5", v)
		if err != nil {
			t.Fatalf("%s: %v", v.Type(), err)
		}
		doc := JSONDoc{BaseName: "/3/0/", Entries: []JSONEntry{e}}
		b, err := doc.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeJSON(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		got, err := back.Entries[0].Value(v.Type())
		if err != nil || !got.Equal(v) {
			t.Errorf("%s round trip via %s = %#v %v", v.Type(), b, got, err)
		}
		if _, err := back.Entries[0].Value(TypeNone); err == nil {
			t.Errorf("typed as none")
		}
	}
	if _, err := NewJSONEntry("5", SecretValue(testPSK)); err == nil {
		t.Errorf("secret encoded")
	}
	if _, err := SecretValue(testPSK).AppendTLV(nil); err == nil {
		t.Errorf("secret TLV encoded")
	}
	if _, err := SecretValue(testPSK).AppendText(nil); err == nil {
		t.Errorf("secret text encoded")
	}
	e, err := TLVResourceEntry(MultiResource(6, map[uint16]Value{0: IntValue(1), 1: IntValue(5)}))
	if b, _ := e.Append(nil); err != nil || !bytes.Equal(b, unhex(t, "86 06 41 00 01 41 01 05")) {
		t.Errorf("TLVResourceEntry = % X %v", b, err)
	}
	if v, err := DecodeTLVValue([]byte{0x51, 0x82, 0x42, 0x8F}, TypeTime); err != nil || v.Int() != 1367491215 {
		t.Errorf("DecodeTLVValue = %v %v", v, err)
	}
	if v, err := ParseText([]byte("3:0"), TypeObjlnk); err != nil || v.Objlnk() != (Objlnk{3, 0}) {
		t.Errorf("ParseText = %v %v", v, err)
	}
}
