package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stdout     string
		stderrPart string
		stderrRows int
	}{
		{name: "version", args: []string{"version"}, code: exitOK, stdout: "lwm2m-clientd dev"},
		{name: "config check ok", args: []string{"config", "check", "../../configs/example.yaml"}, code: exitOK, stdout: "ok\n"},
		{name: "config check errors", args: []string{"config", "check", "../../internal/config/testdata/three-errors.yaml"}, code: exitFail,
			stderrPart: `three-errors.yaml:10:22: servers[0].sms.security_mode: "dtsl" is not one of dtls, secure-packet, nosec`, stderrRows: 3},
		{name: "config check missing file", args: []string{"config", "check", "/nonexistent.yaml"}, code: exitFail, stderrPart: "no such file", stderrRows: 1},
		{name: "config check no file", args: []string{"config", "check"}, code: exitUsage, stderrPart: "accepts 1 arg", stderrRows: 1},
		{name: "config without subcommand", args: []string{"config"}, code: exitUsage, stderrPart: "a subcommand is required", stderrRows: 1},
		{name: "unknown command", args: []string{"frobnicate"}, code: exitUsage, stderrPart: `unknown command "frobnicate"`, stderrRows: 1},
		{name: "unknown flag", args: []string{"version", "--frob"}, code: exitUsage, stderrPart: "unknown flag: --frob", stderrRows: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			if code != tc.code {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tc.code, errb.String())
			}
			if !strings.HasPrefix(out.String(), tc.stdout) {
				t.Errorf("stdout = %q, want prefix %q", out.String(), tc.stdout)
			}
			if !strings.Contains(errb.String(), tc.stderrPart) {
				t.Errorf("stderr = %q, want it to contain %q", errb.String(), tc.stderrPart)
			}
			if rows := strings.Count(errb.String(), "\n"); rows != tc.stderrRows {
				t.Errorf("stderr has %d lines, want %d: %q", rows, tc.stderrRows, errb.String())
			}
		})
	}
}
