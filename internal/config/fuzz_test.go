package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
)

// FuzzParse feeds arbitrary YAML to the loader: it must never panic, and a
// configuration it accepts must be accepted again unchanged (validation is
// deterministic and defaults are idempotent).
func FuzzParse(f *testing.F) {
	for _, s := range []string{base, securePacket, "", "modem: none", "servers: [{}]", "endpoint: [", "a: &x b\nc: *x\n"} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("../../configs/*.yaml")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		if c == nil {
			t.Fatal("nil config without error")
		}
		if _, err := config.Parse("fuzz.yaml", data); err != nil {
			t.Fatalf("accepted once, rejected the second time: %v", err)
		}
	})
}
