package lwm2m

import (
	"math"
	"strings"
	"testing"
	"time"
)

// FuzzParsePath: the Uri-Path of a server request. No panic; an accepted
// path has at most 4 segments, each below 65535, and prints back as the
// input without its outer slashes (decimal without leading zeros is the
// only accepted form).
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"", "/", "/3/0/13", "3/0", "/65534", "/65535", "/03", "/1/2/3/4/5", "//3//", "/-1", "/+1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		if len(p) > 4 {
			t.Fatalf("ParsePath(%q) = %v: more than 4 segments", s, p)
		}
		for _, id := range p {
			if id >= MaxID {
				t.Fatalf("ParsePath(%q) = %v: reserved ID", s, p)
			}
		}
		if got, want := p.String(), "/"+strings.Trim(s, "/"); got != want {
			t.Fatalf("ParsePath(%q).String() = %q, want %q", s, got, want)
		}
	})
}

// FuzzParseAttributes: the Uri-Query of a Write-Attributes request. No
// panic; an accepted pmin/pmax is whole non-negative seconds; st is never
// negative; a parameter is either set or cleared, never both.
func FuzzParseAttributes(f *testing.F) {
	for _, s := range []string{"pmin=10&pmax=60", "gt=20.5&lt=-3&st=0.5", "pmin&st", "st=-1", "pmax=2147483648", "x=1", "gt=1e309"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseAttributes(strings.Split(s, "&"))
		if err != nil {
			return
		}
		for _, d := range []*struct {
			set   bool
			clear bool
		}{{a.Pmin != nil, a.ClearPmin}, {a.Pmax != nil, a.ClearPmax}, {a.Gt != nil, a.ClearGt}, {a.Lt != nil, a.ClearLt}, {a.St != nil, a.ClearSt}} {
			if d.set && d.clear {
				t.Fatalf("parseAttributes(%q) sets and clears a parameter: %+v", s, a)
			}
		}
		for _, d := range []*time.Duration{a.Pmin, a.Pmax} {
			if d != nil && (*d < 0 || *d%time.Second != 0) {
				t.Fatalf("parseAttributes(%q): period %v", s, *d)
			}
		}
		if a.St != nil && *a.St < 0 {
			t.Fatalf("parseAttributes(%q): negative st %v", s, *a.St)
		}
		for _, v := range []*float64{a.Gt, a.Lt, a.St} {
			if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
				t.Fatalf("parseAttributes(%q): non-finite threshold %v", s, *v)
			}
		}
	})
}
