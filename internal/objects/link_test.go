package objects

import (
	"errors"
	"testing"
)

// A link-format document is a list, so a prefix cut after a complete link
// is itself a valid document: the "every strict prefix fails" rule of
// style.md cannot hold here. TestLinkErrors covers cuts inside a link.
func TestLinkVectors(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		links     int
	}{
		// LwM2M-TS 1.0 §5.3.1 Register payload example (lwm2m.md §8.2).
		{name: "register payload", doc: `</1/0>,</2/0>,</3/0>,</4/0>,</5>`, links: 5},
		// §5.4.2 Discover example on a resource with attributes.
		{name: "discover resource", doc: `</3/0/7>;dim=8;gt=50;lt=42.2;pmin=10;pmax=60`, links: 1},
		// §5.2.7.3 Bootstrap-Discover answer.
		{name: "bootstrap discover", doc: `</>;lwm2m="1.0",</0/0>,</0/1>;ssid=101,</1/0>;ssid=101,</2>,</3/0>`, links: 6},
		{name: "alternate path", doc: `</lwm2m>;rt="oma.lwm2m",</lwm2m/1/0>`, links: 2},
		{name: "quoted escapes and valueless param", doc: `</a>;t="x\"y\\z";obs`, links: 1},
		{name: "empty", doc: ``, links: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls, err := DecodeLinks([]byte(tc.doc))
			if err != nil || len(ls) != tc.links {
				t.Fatalf("decode = %d links, %v", len(ls), err)
			}
			enc, err := ls.Append(nil)
			if err != nil || string(enc) != tc.doc {
				t.Fatalf("re-encode = %s (%v)", enc, err)
			}
		})
	}
	ls, _ := DecodeLinks([]byte(`</3/0/7>;dim=8;gt=50`))
	if v, ok := ls[0].Param("gt"); !ok || v != "50" {
		t.Errorf("Param(gt) = %q %v", v, ok)
	}
}

func TestLinkErrors(t *testing.T) {
	for _, doc := range []string{`<`, `</1>,`, `/1`, `</1>;`, `</1>;=1`, `</1>;a=`, `</1>;a="x`, `</1>x`, `</1>,,</2>`, `</"1>`, `</1>;a=1;`} {
		_, err := DecodeLinks([]byte(doc))
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Errorf("%q: err = %v", doc, err)
		}
	}
	if _, err := (Links{{Target: "a>b"}}).Append(nil); err == nil {
		t.Errorf("target with > encoded")
	}
	if _, err := (Links{{Target: "/1", Params: []LinkParam{{Name: "a", Value: "x,y", HasValue: true}}}}).Append(nil); err == nil {
		t.Errorf("unquoted comma encoded")
	}
}
