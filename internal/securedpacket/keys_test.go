package securedpacket_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
)

// TestKeysRedacted: key material never reaches a formatted string or JSON
// (what slog's text and JSON handlers use).
func TestKeysRedacted(t *testing.T) {
	k := sp.Keys{KIc: mustHex("a1b2c3d4e5f60718293a4b5c6d7e8f90"), KID: mustHex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")}
	j, err := json.Marshal(struct{ K sp.Keys }{k})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprintf("%v", k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), fmt.Sprintf("%s", k), string(j)} {
		for _, secret := range []string{"a1b2c3", "A1B2C3", "0f1e2d", "161", "oSssdOX2"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q leaks key material", s)
			}
		}
		if !strings.Contains(s, "redacted") {
			t.Errorf("%q does not say redacted", s)
		}
	}
}
