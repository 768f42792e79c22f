package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	return startEmulatedModem(t, "+33600000001", card)
}

func TestUICCAPDU(t *testing.T) {
	link := startModemWithSIM(t)
	runCLICases(t, []cliCase{
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
	})
}

// TestEmulatorWithSIM: "emulator --sim PROFILE" puts the emulated SIM in the
// emulated modem; modem info shows its ICCID and uicc apdu reaches its
// LwM2M application.
func TestEmulatorWithSIM(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	link := filepath.Join(t.TempDir(), "ttyEMU")
	pr, pw := io.Pipe()
	cmd := newEmulatorCmd()
	cmd.SetOut(pw)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"--link", link, "--number", "+33600000001", "--log-level", "warn",
		"--sim", "../../configs/emulator-sim.yaml", "--sim-counters", filepath.Join(t.TempDir(), "counters.json")})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(runCtx)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var lines []string
	for len(lines) < 2 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if len(lines) < 2 || lines[1] != "emulated SIM ICCID 8900100000000000018 IMSI 001010000000001 with the LwM2M UICC application" {
		t.Fatalf("emulator printed %q", lines)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"modem", "info", "--port", link}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "8900100000000000018") {
		t.Fatalf("modem info: %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run([]string{"uicc", "apdu", "--port", link, "00A4040C06F04C574D324D"}, &out, &errb); code != exitOK ||
		!strings.Contains(out.String(), "< 9000 (normal ending)") {
		t.Fatalf("uicc apdu: %d %q %q", code, out.String(), errb.String())
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestEmulatorSIMUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"emulator", "--link", "/tmp/x", "--number", "+33600000001", "--sim-toolkit", "modem"}, &out, &errb); code != exitUsage ||
		!strings.Contains(errb.String(), "need --sim PROFILE") {
		t.Errorf("--sim-toolkit without --sim: %d %q", code, errb.String())
	}
	link := filepath.Join(t.TempDir(), "ttyEMU")
	if code := run([]string{"emulator", "--link", link, "--number", "+33600000001", "--sim", "/nonexistent.yaml"}, &out, &errb); code != exitFail ||
		!strings.Contains(errb.String(), "nonexistent.yaml") {
		t.Errorf("missing profile: %d %q", code, errb.String())
	}
}
