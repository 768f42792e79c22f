package objects

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
)

func TestPlainTextEveryType(t *testing.T) {
	for _, tc := range []struct {
		v    Value
		text string
	}{
		{StringValue("Open Mobile Alliance"), "Open Mobile Alliance"},
		{IntValue(-750), "-750"},
		{IntValue(math.MaxInt64), "9223372036854775807"},
		{FloatValue(42.5), "42.5"},
		{FloatValue(-1e-7), "-1e-07"},
		{BoolValue(true), "1"},
		{BoolValue(false), "0"},
		{OpaqueValue([]byte{0xDE, 0xAD, 0xBE, 0xEF}), "3q2+7w=="},
		{UnixValue(1367491215), "1367491215"},
		{ObjlnkValue(Objlnk{Object: 3, Instance: 0}), "3:0"},
	} {
		if got := string(tc.v.appendText(nil)); got != tc.text {
			t.Errorf("%s text = %q, want %q", tc.v.Type(), got, tc.text)
		}
		back, err := parseText([]byte(tc.text), tc.v.Type())
		if err != nil || !back.Equal(tc.v) {
			t.Errorf("%s parse %q = %#v %v", tc.v.Type(), tc.text, back, err)
		}
	}
	for _, bad := range []struct {
		typ  Type
		text string
	}{
		{TypeInteger, "1.5"}, {TypeInteger, ""}, {TypeInteger, "0x10"}, {TypeFloat, "NaN"}, {TypeFloat, "Inf"},
		{TypeFloat, "0x1p3"}, {TypeFloat, "1_000"}, {TypeBoolean, "true"}, {TypeBoolean, "2"}, {TypeOpaque, "!!"},
		{TypeObjlnk, "3"}, {TypeObjlnk, "3:70000"}, {TypeString, "\xff"}, {TypeNone, ""},
	} {
		if _, err := parseText([]byte(bad.text), bad.typ); err == nil {
			t.Errorf("%s %q accepted", bad.typ, bad.text)
		}
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	s := NewSecret([]byte("supersecretkey!!"))
	v := SecretValue(s)
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	log.Info("x", "secret", s, "value", v)
	log = slog.New(slog.NewJSONHandler(&logged, nil))
	log.Info("x", "secret", s, "value", v)
	out := logged.String() + fmt.Sprintf("%v %s %x %X %q %#v %+v %v %s %#v", s, s, s, s, s, s, s, v, v, v)
	for _, leak := range []string{"supersecret", "7375706572", "c3VwZXJz"} {
		if strings.Contains(strings.ToLower(out), strings.ToLower(leak)) {
			t.Fatalf("secret leaked: %s", out)
		}
	}
	if !strings.Contains(out, "[redacted]") {
		t.Fatalf("no redaction marker: %s", out)
	}
	if !bytes.Equal(s.Bytes(), []byte("supersecretkey!!")) || s.Len() != 16 {
		t.Fatalf("Bytes/Len broken")
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		n    int
	}{
		{"", "/", 0}, {"/", "/", 0}, {"/3", "/3", 1}, {"/3/0/", "/3/0", 2}, {"3/0/1", "/3/0/1", 3},
		{"/3/0/6/1", "/3/0/6/1", 4}, {"/65534", "/65534", 1},
	} {
		p, err := ParsePath(tc.in)
		if err != nil || p.String() != tc.want || p.Len() != tc.n {
			t.Errorf("ParsePath(%q) = %s (%d) %v", tc.in, p, p.Len(), err)
		}
	}
	for _, bad := range []string{"/65535", "/a", "/3//0", "/-1", "/01", "/3/0/1/2/3", "/ 3", "/+3", "/70000"} {
		if _, err := ParsePath(bad); !errors.Is(err, ErrBadPath) {
			t.Errorf("ParsePath(%q) accepted: %v", bad, err)
		}
	}
	p := ResourcePath(3, 0, 13)
	if p.Parent() != InstancePath(3, 0) || p.Parent().Child(13) != p || !ObjectPath(3).Contains(p) || p.Contains(ObjectPath(3)) {
		t.Errorf("path navigation broken")
	}
	if got := strings.Join(p.Segments(), ","); got != "3,0,13" {
		t.Errorf("segments %q", got)
	}
}

func TestParseExecArgs(t *testing.T) {
	got, err := ParseExecArgs([]byte("0='ab,c',1,2=''"))
	want := []ExecArg{{ID: 0, Value: "ab,c", HasValue: true}, {ID: 1}, {ID: 2, Value: "", HasValue: true}}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("= %v %v", got, err)
	}
	if got, err := ParseExecArgs(nil); err != nil || got != nil {
		t.Fatalf("empty = %v %v", got, err)
	}
	for _, bad := range []string{"a", "0=", "0='x", "0=x", "10", "0,", ",0", "0;1"} {
		if _, err := ParseExecArgs([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCodeString(t *testing.T) {
	for c, s := range map[Code]string{Content: "2.05", NotFound: "4.04", UnsupportedFormat: "4.15", InternalServerError: "5.00"} {
		if c.String() != s {
			t.Errorf("%d = %s want %s", c, c, s)
		}
	}
	if Content != 0x45 || UnsupportedFormat != 0x8F || !Changed.Success() || BadRequest.Success() {
		t.Errorf("code values wrong")
	}
}
