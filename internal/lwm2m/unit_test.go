package lwm2m

import (
	"errors"
	"testing"
	"time"
)

func f(v float64) *float64 { return &v }

func TestThresholdsAllow(t *testing.T) {
	for _, tc := range []struct {
		name       string
		prev       *float64
		cur        float64
		gt, lt, st *float64
		want       bool
	}{
		{name: "no attributes", prev: f(1), cur: 2, want: true},
		{name: "no previous value", prev: nil, cur: 2, gt: f(10), want: true},
		{name: "gt crossed upwards", prev: f(9), cur: 11, gt: f(10), want: true},
		{name: "gt crossed downwards", prev: f(11), cur: 9, gt: f(10), want: true},
		{name: "gt not crossed", prev: f(5), cur: 9, gt: f(10), want: false},
		{name: "lt crossed", prev: f(5), cur: 3, lt: f(4), want: true},
		{name: "lt not crossed", prev: f(5), cur: 6, lt: f(4), want: false},
		{name: "step reached", prev: f(5), cur: 7, st: f(2), want: true},
		{name: "step reached downwards", prev: f(5), cur: 3, st: f(2), want: true},
		{name: "step not reached", prev: f(5), cur: 6, st: f(2), want: false},
		{name: "any condition suffices", prev: f(5), cur: 6, gt: f(100), st: f(1), want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := thresholdsAllow(tc.prev, tc.cur, tc.gt, tc.lt, tc.st); got != tc.want {
				t.Errorf("thresholdsAllow = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseAttributes(t *testing.T) {
	a, err := parseAttributes([]string{"pmin=10", "pmax=60", "gt=20.5", "lt=-3", "st=0.5"})
	if err != nil {
		t.Fatal(err)
	}
	if *a.Pmin != 10*time.Second || *a.Pmax != time.Minute || *a.Gt != 20.5 || *a.Lt != -3 || *a.St != 0.5 {
		t.Errorf("parsed %+v", a)
	}
	a, err = parseAttributes([]string{"pmin", "gt"})
	if err != nil || !a.ClearPmin || !a.ClearGt || a.Pmin != nil {
		t.Errorf("clearing: %+v %v", a, err)
	}
	for _, bad := range [][]string{{"pmin=-1"}, {"pmax=x"}, {"gt=abc"}, {"st=-1"}, {"foo=1"}, {"epmin=1"},
		{"gt=NaN"}, {"lt=-Inf"}, {"st=+Inf"}, {"gt=infinity"}, {"gt=1e309"}} {
		if _, err := parseAttributes(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  bool
	}{
		{in: "/", want: "/"}, {in: "", want: "/"}, {in: "/3/0/13", want: "/3/0/13"}, {in: "3/0", want: "/3/0"},
		{in: "/1/2/3/4", want: "/1/2/3/4"}, {in: "/1/2/3/4/5", err: true}, {in: "/65535", err: true},
		{in: "/x", err: true}, {in: "/01", err: true}, {in: "/-1", err: true}, {in: "/rd", err: true},
	} {
		p, err := ParsePath(tc.in)
		if tc.err {
			if !errors.Is(err, ErrBadPath) {
				t.Errorf("ParsePath(%q) = %v, %v; want ErrBadPath", tc.in, p, err)
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("ParsePath(%q) = %q, %v", tc.in, p, err)
		}
	}
	if !(Path{3}).Covers(Path{3, 0, 13}) || (Path{3, 0, 13}).Covers(Path{3}) || !(Path{}).Covers(Path{1}) {
		t.Error("Covers")
	}
	if !(Path{3, 0}).Equal(Path{3, 0}) || (Path{3, 0}).Equal(Path{3}) {
		t.Error("Equal")
	}
}

func TestSplitURI(t *testing.T) {
	for _, tc := range []struct {
		uri, hostport string
		secure, err   bool
	}{
		{uri: "coap://127.0.0.1", hostport: "127.0.0.1:5683"},
		{uri: "coaps://lwm2m.example.com", hostport: "lwm2m.example.com:5684", secure: true},
		{uri: "coap://[::1]:1234", hostport: "[::1]:1234"},
		{uri: "http://x", err: true}, {uri: "coap://", err: true}, {uri: "::", err: true},
	} {
		hp, sec, err := splitURI(tc.uri)
		if tc.err != (err != nil) || hp != tc.hostport || sec != tc.secure {
			t.Errorf("splitURI(%q) = %q %v %v", tc.uri, hp, sec, err)
		}
		if err != nil && !errors.Is(err, ErrBadURI) {
			t.Errorf("splitURI(%q): %v is not ErrBadURI", tc.uri, err)
		}
	}
}

func TestBlockSizes(t *testing.T) {
	for size, want := range map[int]int{16: 0, 32: 1, 64: 2, 128: 3, 256: 4, 512: 5, 1024: 6} {
		if s, err := szx(size); err != nil || int(s) != want {
			t.Errorf("szx(%d) = %d %v", size, s, err)
		}
	}
	for _, bad := range []int{0, 8, 100, 2048} {
		if _, err := szx(bad); err == nil {
			t.Errorf("szx(%d) accepted", bad)
		}
	}
}

func TestUpdateDelay(t *testing.T) {
	for lt, want := range map[time.Duration]time.Duration{
		24 * time.Hour:    24*time.Hour - 144*time.Minute, // 10 % margin
		300 * time.Second: 207 * time.Second,              // MAX_TRANSMIT_WAIT margin
		60 * time.Second:  30 * time.Second,               // never later than half
	} {
		if got := updateDelay(lt); got != want {
			t.Errorf("updateDelay(%v) = %v, want %v", lt, got, want)
		}
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{}, nil, nil); err == nil {
		t.Error("empty config accepted")
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("key")
	if s.String() != "[redacted]" || s.LogValue().String() != "[redacted]" {
		t.Error("secret printed")
	}
}
