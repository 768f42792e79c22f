package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/control"
)

// fakeStatus is what a daemon would report at now. Relative times sit
// half a minute off a whole minute, so "12m ago" holds for the seconds a
// test takes.
func fakeStatus(now time.Time) control.Status {
	dbm := -71
	return control.Status{
		Version: "1.2.3",
		Uptime:  control.Duration(3*time.Hour + 25*time.Minute + 10*time.Second),
		Servers: []control.ServerStatus{
			{ShortServerID: 101, URI: "coaps://lwm2m.example.net", Registration: "registered", Registered: true, Location: "/rd/5a3f",
				LastUpdate: control.At(now.Add(-12*time.Minute - 30*time.Second)), NextUpdate: control.At(now.Add(48*time.Minute + 30*time.Second)),
				Binding: "UQS", SMSMode: "dtls", DTLSSMSSession: control.DTLSSessionEstablished},
			{ShortServerID: 102, URI: "coap://10.0.0.1", Registration: "backoff", Binding: "U",
				LastError: "register: 4.03 Forbidden"},
		},
		Modem: &control.ModemStatus{Port: "/dev/ttyUSB2", State: control.ModemUp, Since: control.At(now.Add(-3 * time.Hour)),
			SignalDBm: &dbm, Operator: "Orange F", LastSMSIn: control.At(now.Add(-90 * time.Second))},
		Counters: control.Counters{SMSReceived: 12, SMSDroppedSender: 3, SMSDroppedProtection: 1, SMSDroppedRateLimit: 2, SMSSent: 9},
	}
}

// fakeDaemon serves provider on a control socket until the test ends.
func fakeDaemon(t *testing.T, provider control.Provider) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "control.sock")
	s, err := control.Listen(control.Config{Path: path}, provider)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return path
}

func TestPrintStatus(t *testing.T) {
	now := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	if err := printStatus(&b, fakeStatus(now), now); err != nil {
		t.Fatal(err)
	}
	want := `lwm2m-clientd 1.2.3, up 3h25m

SERVER  REGISTRATION  LOCATION  LAST UPDATE  NEXT UPDATE  BINDING  SMS MODE  DTLS/SMS     LAST ERROR
101     registered    /rd/5a3f  12m ago      in 48m       UQS      dtls      established  -
102     backoff       -         -            -            U        -         -            register: 4.03 Forbidden

modem                       /dev/ttyUSB2
  state                     up since 2026-11-28 15:00:00Z (3h00m ago)
  signal                    -71 dBm
  operator                  Orange F
  last SMS in               2026-11-28 17:58:30Z (1m ago)
  last SMS out              -
sim                         none (no secure-packet server)
SMS                         since the daemon started
  received                  12
  dropped: unknown sender   3
  dropped: badly protected  1
  dropped: rate limit       2
  dropped: other            0
  sent                      9
  send failures             0
  delivered                 0
  delivery failed           0
  delivery pending          0
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestPrintStatusSIM: the sim block of a secure-packet gateway whose card
// stopped answering.
func TestPrintStatusSIM(t *testing.T) {
	now := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)
	st := fakeStatus(now)
	st.SIM = &control.SIMStatus{State: control.SIMNotAnswering, Since: control.At(now.Add(-5*time.Minute - 30*time.Second)),
		LastOK: control.At(now.Add(-5*time.Minute - 32*time.Second)), AID: "f04c574d324d",
		LastError: "uicc: get data: uicc: transmit 80ca: modem: +CSIM: +CME ERROR: 13"}
	var b bytes.Buffer
	if err := printStatus(&b, st, now); err != nil {
		t.Fatal(err)
	}
	want := `  last SMS out              -
sim                         LwM2M UICC application f04c574d324d
  state                     not answering since 2026-11-28 17:54:30Z (5m ago)
  last answer               2026-11-28 17:54:28Z (5m ago)
  last error                uicc: get data: uicc: transmit 80ca: modem: +CSIM: +CME ERROR: 13
SMS                         since the daemon started
`
	if !strings.Contains(b.String(), want) {
		t.Errorf("got\n%s\nwant the block\n%s", b.String(), want)
	}
	st.SIM = &control.SIMStatus{State: control.SIMUnknown, AID: "f04c574d324d"}
	b.Reset()
	if err := printStatus(&b, st, now); err != nil {
		t.Fatal(err)
	}
	want = `sim                         LwM2M UICC application f04c574d324d
  state                     unknown
  last answer               -
  last error                -
`
	if !strings.Contains(b.String(), want) {
		t.Errorf("got\n%s\nwant the block\n%s", b.String(), want)
	}
}

func TestPrintStatusUDPOnly(t *testing.T) {
	var b bytes.Buffer
	if err := printStatus(&b, control.Status{Version: "dev"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"up 0s", "(none)", "modem                       none (UDP only)"} {
		if !strings.Contains(b.String(), part) {
			t.Errorf("output lacks %q:\n%s", part, b.String())
		}
	}
}

func TestStatusCommand(t *testing.T) {
	path := fakeDaemon(t, func(context.Context) control.Status { return fakeStatus(time.Now()) })
	missing := filepath.Join(t.TempDir(), "control.sock")
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stdoutPart []string
		stderr     string
	}{
		{name: "table", args: []string{"status", "--socket", path}, code: exitOK,
			stdoutPart: []string{"lwm2m-clientd 1.2.3, up 3h25m\n", "101     registered    /rd/5a3f  12m ago      in 48m ",
				"  signal                    -71 dBm\n", "  dropped: unknown sender   3\n"}},
		{name: "json", args: []string{"status", "--socket", path, "--json"}, code: exitOK,
			stdoutPart: []string{`"short_server_id": 101`, `"dtls_sms_session": "established"`, `"sms_dropped_protection": 1`, `"uptime": 12310`, `"sim": null`}},
		{name: "not running", args: []string{"status", "--socket", missing}, code: exitFail,
			stderr: "lwm2m-clientd: status: daemon not running (no socket at " + missing + ")\n"},
		{name: "extra argument", args: []string{"status", "now"}, code: exitUsage,
			stderr: "lwm2m-clientd: unknown command \"now\" for \"lwm2m-clientd status\"\n"},
		{name: "empty socket", args: []string{"status", "--socket", ""}, code: exitUsage,
			stderr: "lwm2m-clientd: status: --socket must not be empty\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			if code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.code, errb.String())
			}
			for _, p := range tc.stdoutPart {
				if !strings.Contains(out.String(), p) {
					t.Errorf("stdout lacks %q:\n%s", p, out.String())
				}
			}
			if errb.String() != tc.stderr {
				t.Errorf("stderr %q, want %q", errb.String(), tc.stderr)
			}
		})
	}
}

func TestStatusJSONIsTheDaemonsDocument(t *testing.T) {
	path := fakeDaemon(t, func(context.Context) control.Status { return fakeStatus(time.Now()) })
	var out, errb bytes.Buffer
	if code := run([]string{"status", "--socket", path, "--json"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := control.FetchRaw(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var a, b map[string]any
	if err := json.Unmarshal(out.Bytes(), &a); err != nil {
		t.Fatalf("--json output is not JSON: %v", err)
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	// Times move between the two requests; compare the shape and the rest.
	for _, k := range []string{"version", "uptime", "counters"} {
		ja, _ := json.Marshal(a[k])
		jb, _ := json.Marshal(b[k])
		if !bytes.Equal(ja, jb) {
			t.Errorf("%s: --json %s, daemon %s", k, ja, jb)
		}
	}
}
