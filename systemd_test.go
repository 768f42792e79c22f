package lwm2mclientd_test

import (
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// maxExposure is the highest `systemd-analyze security` exposure the unit
// may have (issue #9: "OK" or better).
const maxExposure = 3.0

// TestSystemdUnitExposure rates systemd/lwm2m-clientd.service with
// systemd-analyze where it exists.
func TestSystemdUnitExposure(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed (Debian package systemd); unit hardening not rated")
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=true", "--no-pager",
		"systemd/lwm2m-clientd.service").CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) (\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	level, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exposure %.1f %s", level, m[2])
	if level > maxExposure {
		t.Errorf("exposure %.1f %s > %.1f", level, m[2], maxExposure)
	}
}

// TestSystemdUnitVerifies checks the unit's syntax where systemd-analyze
// exists (a typo in a directive is otherwise only seen on a gateway).
func TestSystemdUnitVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed")
	}
	out, _ := exec.Command("systemd-analyze", "verify", "--man=no", "systemd/lwm2m-clientd.service").CombinedOutput()
	for _, bad := range regexp.MustCompile(`(?m)^.*(Unknown key|Failed to parse|Invalid|unknown lvalue).*$`).FindAll(out, -1) {
		t.Errorf("systemd-analyze verify: %s", bad)
	}
}
