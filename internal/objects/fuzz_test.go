package objects

import (
	"bytes"
	"strings"
	"testing"
)

// Every decoder is fuzzed: no panic, and decode → encode → decode is
// stable (style.md rule 7). Seeds are the vectors of the tests; the
// committed corpus lives in testdata/fuzz/.

func FuzzDecodeTLV(f *testing.F) {
	for _, s := range []string{deviceTLV, accessControlTLV, "E1 01 00 2A", "C0 05", "80 06", "03 00 41 00 01", "C8 00"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := DecodeTLV(b)
		if err != nil {
			return
		}
		enc, err := ts.Append(nil)
		if err != nil {
			t.Fatalf("encode of decoded payload: %v", err)
		}
		ts2, err := DecodeTLV(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !tlvEqual(ts, ts2) {
			t.Fatalf("unstable: %+v vs %+v", ts, ts2)
		}
		enc2, _ := ts2.Append(nil)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not canonical")
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{specDeviceJSON, `{"bn":"/","bt":1,"e":[{"n":"1/0/6","bv":true},{"n":"5/0/1","ov":"3:0","t":-5}]}`, `{"e":[]}`, `{"e":[{"v":1e400}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := DecodeJSON(b)
		if err != nil {
			return
		}
		enc, err := doc.Append(nil)
		if err != nil {
			t.Fatalf("encode of decoded document: %v", err)
		}
		doc2, err := DecodeJSON(enc)
		if err != nil {
			t.Fatalf("re-decode %s: %v", enc, err)
		}
		enc2, err := doc2.Append(nil)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("unstable: %s vs %s", enc, enc2)
		}
	})
}

func FuzzDecodeLinks(f *testing.F) {
	for _, s := range []string{`</1/0>,</2/0>,</3/0>,</4/0>,</5>`, `</3/0/7>;dim=8;gt=50;lt=42.2;pmin=10;pmax=60`, `</>;lwm2m="1.0",</0/1>;ssid=101`, `</a>;t="x\"y\\z";obs`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ls, err := DecodeLinks(b)
		if err != nil {
			return
		}
		enc, err := ls.Append(nil)
		if err != nil {
			t.Fatalf("encode of decoded links %q: %v", b, err)
		}
		ls2, err := DecodeLinks(enc)
		if err != nil {
			t.Fatalf("re-decode %q: %v", enc, err)
		}
		enc2, _ := ls2.Append(nil)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("unstable: %q vs %q", enc, enc2)
		}
	})
}

func FuzzParseExecArgs(f *testing.F) {
	for _, s := range []string{"", "0='ab,c',1,2=''", "5"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseExecArgs(b)
	})
}

// FuzzTreeWrite feeds arbitrary payloads to Write and Create in every
// format: the tree never panics, answers a code, keeps the Security object
// unreadable, and whatever it accepted reads back as valid TLV.
func FuzzTreeWrite(f *testing.F) {
	f.Add(uint8(0), uint8(0), unhex(f, "C1 01 0A"))
	f.Add(uint8(1), uint8(1), []byte(`{"bn":"/1/0/","e":[{"n":"1","v":30}]}`))
	f.Add(uint8(2), uint8(2), []byte("300"))
	f.Add(uint8(3), uint8(0), unhex(f, accessControlTLV))
	f.Fuzz(func(t *testing.T, target, format uint8, payload []byte) {
		tr, err := New(Config{Factory: testFactory()})
		if err != nil {
			t.Fatal(err)
		}
		paths := []Path{InstancePath(1, 0), ResourcePath(1, 0, 1), ResourcePath(3, 0, 14), ObjectPath(1), InstancePath(0, 1), ResourceInstancePath(2, 0, 2, 7)}
		formats := []ContentFormat{FormatTLV, FormatJSON, FormatText, FormatOpaque, FormatLegacyTLV}
		p := paths[int(target)%len(paths)]
		cf := formats[int(format)%len(formats)]
		callers := []Caller{Server(101), Bootstrap}
		for _, c := range callers {
			_ = tr.Write(c, p, WriteReplace, cf, payload)
			_ = tr.Write(c, p, WriteUpdate, cf, payload)
		}
		_, _ = tr.Create(Server(101), ObjectPath(p.Object()), cf, payload)
		if _, _, code := tr.Read(Server(101), InstancePath(0, 1), FormatTLV); code.Success() {
			t.Fatalf("security object readable after fuzzed writes")
		}
		for _, o := range []uint16{1, 2, 3} {
			b, _, code := tr.Read(Internal, ObjectPath(o), FormatTLV)
			if !code.Success() {
				t.Fatalf("read /%d after writes: %s", o, code)
			}
			if _, err := DecodeTLV(b); err != nil {
				t.Fatalf("read /%d produced invalid TLV: %v", o, err)
			}
		}
	})
}

// FuzzTreeOps runs arbitrary operation sequences (every operation, caller,
// path and format) against a tree holding a known secret: nothing panics,
// nothing returns the secret, and a DM server never gets a success on the
// Security object.
func FuzzTreeOps(f *testing.F) {
	f.Add([]byte{0, 0, 3, 0, 0, 1, 1, 1, 0, 2, 1, 0, 1, 0, 4, 2, 0, 0, 0})
	f.Add([]byte("\x05\x01\x00\x01\x08\x00\x02\x00\x01\x0f"))
	f.Fuzz(func(t *testing.T, prog []byte) {
		secret := bytes.Repeat([]byte{0xC3}, 16)
		tr, err := New(Config{Factory: twoServerFactory()})
		if err != nil {
			t.Fatal(err)
		}
		tr.BootstrapBegin()
		if code := tr.Write(Bootstrap, ResourcePath(0, 1, 8), WriteReplace, FormatOpaque, secret); code != Changed {
			t.Fatal(code)
		}
		tr.BootstrapFinish()
		next := func() byte {
			if len(prog) == 0 {
				return 0
			}
			b := prog[0]
			prog = prog[1:]
			return b
		}
		callers := []Caller{Server(101), Server(102), Bootstrap, Internal, Server(7)}
		formats := []ContentFormat{NoFormat, FormatTLV, FormatJSON, FormatText, FormatOpaque, FormatLink, FormatLegacyJSON, ContentFormat(60)}
		for steps := 0; len(prog) > 0 && steps < 32; steps++ {
			op, c := next()%9, callers[int(next())%len(callers)]
			var p Path
			for n := int(next() % 5); p.Len() < n; {
				p = p.Child(uint16(next() % 12))
			}
			cf := formats[int(next())%len(formats)]
			n := int(next())
			if n > len(prog) {
				n = len(prog)
			}
			payload := prog[:n]
			prog = prog[n:]
			var out []byte
			var code Code
			switch op {
			case 0:
				out, _, code = tr.Read(c, p, cf)
			case 1:
				code = tr.Write(c, p, WriteReplace, cf, payload)
			case 2:
				code = tr.Write(c, p, WriteUpdate, cf, payload)
			case 3:
				_, code = tr.Create(c, p, cf, payload)
			case 4:
				code = tr.Delete(c, p)
			case 5:
				code = tr.Execute(c, p, payload)
			case 6:
				out, code = tr.Discover(c, p)
			case 7:
				code = tr.WriteAttributes(c, p, strings.Split(string(payload), "&"))
			case 8:
				out = tr.RegistrationLinks()
				code = Content
			}
			if code == 0 {
				t.Fatalf("op %d on %s returned no code", op, p)
			}
			if bytes.Contains(out, secret[:8]) || bytes.Contains(out, []byte("w8PDw8PD")) {
				t.Fatalf("op %d by %s on %s leaked the secret", op, c, p)
			}
			if op != 8 && c.Kind == CallerServer && p.Len() >= 1 && p.Object() == SecurityObjectID && code.Success() {
				t.Fatalf("op %d by %s on %s succeeded on the Security object", op, c, p)
			}
		}
	})
}
