package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	emumodem "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/sim"
)

// startModemWithSIM runs an emulated modem holding the emulated SIM of
// configs/emulator-sim.yaml (a T=0 card, so GET RESPONSE shows).
func startModemWithSIM(t *testing.T) string {
	t.Helper()
	card, err := sim.Load("../../configs/emulator-sim.yaml", sim.Options{T0: true})
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "ttyEMU")
	em, err := emumodem.New(emumodem.Config{Link: link, Number: "+33600000001", SIM: card})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	return link
}

func TestUICCAPDU(t *testing.T) {
	link := startModemWithSIM(t)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{name: "select then get data", args: []string{"uicc", "apdu", "--port", link, "00A4040406F04C574D324D00", "80CA000500"}, code: exitFail,
			stdout: []string{
				"> 00A4040406F04C574D324D00\n< 620C82027821840" + "6F04C574D324D\n< 9000 (normal ending)\n",
				"> 80CA000500\n< 6a88 (referenced data not found)\n"}},
		{name: "raw shows 61xx", args: []string{"uicc", "apdu", "--raw", "--port", link, "00A4040406F04C574D324D00"}, code: exitFail,
			stdout: []string{"< 610e (14 response octets available)\n"}},
		{name: "terminal profile", args: []string{"uicc", "apdu", "--port", link, "801000000100"}, code: exitOK,
			stdout: []string{"< 9000 (normal ending)\n"}},
		{name: "bad hex", args: []string{"uicc", "apdu", "--port", link, "80CAZZ"}, code: exitUsage, stderr: "is not hex"},
		{name: "bad apdu", args: []string{"uicc", "apdu", "--port", link, "80CA"}, code: exitUsage, stderr: "truncated"},
		{name: "no port", args: []string{"uicc", "apdu", "80CA000500"}, code: exitUsage, stderr: "--port is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q; stdout %q", code, tc.code, errb.String(), out.String())
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout %q lacks %q", out.String(), s)
				}
			}
			if !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("stderr %q lacks %q", errb.String(), tc.stderr)
			}
		})
	}
}
