package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	emumodem "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
)

// startEmulatedModem runs an emulated modem with number (and card, when
// not nil) for the test and returns its link path.
func startEmulatedModem(t *testing.T, number string, card emumodem.SIM) string {
	t.Helper()
	link := filepath.Join(t.TempDir(), "ttyEMU")
	em, err := emumodem.New(emumodem.Config{Link: link, Number: number, SIM: card})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	return link
}

// cliCase is one CLI run: its arguments, exit code, and what stdout and
// stderr must contain.
type cliCase struct {
	name   string
	args   []string
	code   int
	stdout []string
	stderr string
}

func runCLICases(t *testing.T, cases []cliCase) {
	t.Helper()
	for _, tc := range cases {
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

func TestModemCommands(t *testing.T) {
	link := startEmulatedModem(t, "+33612000001", nil)
	runCLICases(t, []cliCase{
		{name: "info", args: []string{"modem", "info", "--port", link}, code: exitOK,
			stdout: []string{"manufacturer: lwm2m-clientd", "imei:         356938035643809", "own number:   +33612000001", "registration: registered, home TAC 3C4D cell 1A2B3C5", "mcc/mnc:      208/15", "apn:          emu.apn", "ip address:   10.64.0.2"}},
		{name: "at", args: []string{"modem", "at", "--port", link, "AT+CSQ", "AT+CGMI"}, code: exitOK,
			stdout: []string{"+CSQ: 20,0\nOK\nlwm2m-clientd\nOK\n"}},
		{name: "at error", args: []string{"modem", "at", "--port", link, "AT+NOPE", "AT"}, code: exitFail,
			stdout: []string{"OK\n"}, stderr: "AT+NOPE: +CME ERROR: 4"},
		{name: "no port", args: []string{"modem", "info"}, code: exitUsage, stderr: "--port is required"},
		{name: "missing port", args: []string{"modem", "info", "--port", "/nonexistent/tty", "--timeout", "300ms"}, code: exitFail, stderr: "/nonexistent/tty"},
		{name: "at without command", args: []string{"modem", "at", "--port", link}, code: exitUsage, stderr: "requires at least 1 arg"},
		{name: "emulator without link", args: []string{"emulator", "--number", "+33612000001"}, code: exitUsage, stderr: "--link and --number are required"},
		{name: "emulator bad bridge", args: []string{"emulator", "--link", "/tmp/x", "--number", "+33612000001", "--bridge", "+3369=tcp:1.2.3.4:5"}, code: exitUsage, stderr: "MSISDN=udp:HOST:PORT"},
		{name: "emulator bad toolkit", args: []string{"emulator", "--link", "/tmp/x", "--number", "+33612000001", "--sim-toolkit", "both"}, code: exitUsage, stderr: "want host or modem"},
		{name: "emulator public control", args: []string{"emulator", "--link", "/tmp/x", "--number", "+33612000001", "--control", "0.0.0.0:8080"}, code: exitUsage, stderr: "only a loopback address"},
	})
}

func TestModemInfoJSON(t *testing.T) {
	link := startEmulatedModem(t, "+33612000001", nil)
	var out, errb bytes.Buffer
	if code := run([]string{"modem", "info", "--port", link, "--json"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var v map[string]any
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v["iccid"] != "8933150319000000019" || v["signal_dbm"] != float64(-73) || v["mcc"] != "208" {
		t.Fatalf("json %v", v)
	}
}

// TestEmulatorCommand runs the emulator command until cancelled and talks
// to it as a shell user would: modem info on its link.
func TestEmulatorCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	link := filepath.Join(t.TempDir(), "ttyEMU")
	pr, pw := io.Pipe()
	cmd := newEmulatorCmd()
	cmd.SetOut(pw)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"--link", link, "--number", "+33612000001", "--control", "127.0.0.1:0", "--log-level", "warn",
		"--sim", "../../configs/emulator-sim.yaml", "--sim-counters", filepath.Join(t.TempDir(), "counters.json")})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(runCtx)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var lines []string
	for len(lines) < 3 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	// Lines: the modem, the SIM (--sim), the control API.
	if len(lines) < 3 || !strings.Contains(lines[0], "linked at "+link) || !strings.HasPrefix(lines[1], "emulated SIM ICCID ") ||
		!strings.HasPrefix(lines[2], "control API on http://127.0.0.1:") {
		t.Fatalf("emulator printed %q", lines)
	}
	var out, errb bytes.Buffer
	// The ICCID and IMSI come from the emulated UICC's profile.
	if code := run([]string{"modem", "info", "--port", link}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "iccid:        8900100000000000018") ||
		!strings.Contains(out.String(), "imsi:         001010000000001") {
		t.Fatalf("modem info on the emulator: %d %q %q", code, out.String(), errb.String())
	}
	base := strings.TrimPrefix(lines[2], "control API on ")
	for _, action := range []string{"unplug", "replug", "reboot"} {
		resp, err := http.Post(base+"/modem/"+action, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", action, resp.Status)
		}
	}
	out.Reset()
	if code := run([]string{"modem", "at", "--port", link, "AT+CGMM"}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "EMU-LTE") {
		t.Fatalf("after replug and reboot: %d %q %q", code, out.String(), errb.String())
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
