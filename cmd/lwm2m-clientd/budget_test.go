package main

// The SMS budget (issue 10): what each LwM2M exchange costs in SMS and user
// data octets, measured on the emulated world the demo builds (newDemo: the
// real daemon, the emulated modem on a pty, SIM, SMS network and servers).
//
// `make test` runs TestSMSBudget for its invariants: a DTLS handshake costs
// at most 6 SMS with HelloVerifyRequest and at most 4 without, 0 after a
// restart, a trigger and a Register over SMS 1 SMS each way in every mode, a
// notification 1 SMS (and at most the ACK), a block-wise Read 1 SMS each way
// per block, and no SMS
// carries more than 140 octets; it also runs `run` as a child (this test
// binary re-executed) and reads its resident set, to keep that path
// working. `make bench` sets LWM2M_BENCH_BUDGET to a JSON path
// (bench/sms-budget.json) and LWM2M_BENCH_BIN / LWM2M_BENCH_CROSS to the
// stripped binaries it built: the test then measures the stripped binary's
// `run` and the binary sizes, prints the table and writes the JSON. No
// assertion depends on time.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/control"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/daemon"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsbind"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsdtls"
)

// Environment of `make bench` (absent under `make test`).
const (
	budgetOutEnv   = "LWM2M_BENCH_BUDGET" // where to write the JSON report
	budgetBinEnv   = "LWM2M_BENCH_BIN"    // the stripped binary whose `run` is measured
	budgetCrossEnv = "LWM2M_BENCH_CROSS"  // directory with lwm2m-clientd-linux-<arch>
)

// The budget's invariants (issue 8 and 10).
const (
	maxHandshakeSMSWithHVR    = 6
	maxHandshakeSMSWithoutHVR = 4
	// budgetTokenLen is the token length the payload rows assume: the
	// emulated server's requests and the daemon's SMS use 2-byte tokens.
	budgetTokenLen = 2
	// budgetReadTarget is the size the block-wise Read row aims for.
	budgetReadTarget = 300
)

// budgetRow is one exchange: SMS and user-data octets (UDH included) each
// way, as the emulated server counted them.
type budgetRow struct {
	Name             string `json:"name"`
	What             string `json:"what"`
	Measured         bool   `json:"measured"`
	Why              string `json:"why,omitempty"`
	SMSToDevice      int    `json:"sms_to_device"`
	SMSFromDevice    int    `json:"sms_from_device"`
	OctetsToDevice   int    `json:"octets_to_device"`
	OctetsFromDevice int    `json:"octets_from_device"`
	LargestSMS       int    `json:"largest_sms_octets,omitempty"`
}

// payloadRow is what one SMS leaves for the LwM2M payload in one mode.
type payloadRow struct {
	Mode string `json:"mode"`
	// SecurityOverhead is what the mode takes of one SMS: 140 octets minus
	// the largest CoAP message that fits (DTLS: record header, explicit
	// nonce and CCM_8 tag; secured packet: CPI UDH, header, counter,
	// PCNTR, CC, the BER-TLV around the CoAP message, and the octets lost
	// to the cipher's block padding).
	SecurityOverhead int `json:"security_overhead_octets"`
	// MaxCoAP is the largest CoAP message that fits one SMS in this mode.
	MaxCoAP int `json:"max_coap_message_octets"`
	// Response and Notification are the payload octets left with the
	// CoAP header, a 2-byte token, the options and the payload marker of a
	// 2.05 Content response (Content-Format) and of a notification
	// (Observe with a 3-octet sequence number, Content-Format).
	Response     int `json:"payload_octets_response"`
	Notification int `json:"payload_octets_notification"`
}

type budgetReport struct {
	GeneratedBy string `json:"generated_by"`
	GoVersion   string `json:"go_version"`
	// SMSLimit is the user-data limit of one 8-bit SMS (TS 23.040
	// §9.2.3.24).
	SMSLimit   int          `json:"sms_user_data_limit_octets"`
	TokenLen   int          `json:"token_octets"`
	Rows       []budgetRow  `json:"rows"`
	LargestSMS int          `json:"largest_sms_octets"`
	CoAP       coapOverhead `json:"coap_overhead_octets"`
	Payload    []payloadRow `json:"payload_per_sms"`
	Memory     memoryRow    `json:"memory"`
	Binaries   []binaryRow  `json:"binary_size"`
}

type coapOverhead struct {
	Response     int `json:"response"`
	Notification int `json:"notification"`
}

type memoryRow struct {
	What     string `json:"what"`
	Measured bool   `json:"measured"`
	Why      string `json:"why,omitempty"`
	VmHWMKiB int    `json:"vm_hwm_kib,omitempty"`
	VmRSSKiB int    `json:"vm_rss_kib,omitempty"`
}

type binaryRow struct {
	Arch     string `json:"arch"`
	Measured bool   `json:"measured"`
	Why      string `json:"why,omitempty"`
	Bytes    int64  `json:"bytes,omitempty"`
}

func TestSMSBudget(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() { // registered first: runs after the worlds' cleanups
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
				return
			}
			<-time.After(10 * time.Millisecond)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep := budgetReport{GeneratedBy: "make bench (TestSMSBudget in cmd/lwm2m-clientd/budget_test.go)",
		GoVersion: runtime.Version(), SMSLimit: atpdu.MaxUDOctets, TokenLen: budgetTokenLen}
	bench := os.Getenv(budgetOutEnv) != ""

	// World 1: HelloVerifyRequest on (the server's default).
	w := newBudgetWorld(t, false, false)
	hs := w.handshake(t, ctx, "dtls_handshake_hvr", "full DTLS-over-SMS PSK handshake, server sends HelloVerifyRequest")
	if n := hs.SMSToDevice + hs.SMSFromDevice; n > maxHandshakeSMSWithHVR {
		t.Errorf("handshake with HelloVerifyRequest: %d SMS, want at most %d", n, maxHandshakeSMSWithHVR)
	}
	rep.Rows = append(rep.Rows, hs)
	triggers := map[server.SMSMode]budgetRow{}
	for _, mode := range server.SMSModes {
		r := w.trigger(t, ctx, mode)
		triggers[mode] = r
		rep.Rows = append(rep.Rows, r)
	}
	for _, mode := range server.SMSModes {
		rep.Rows = append(rep.Rows, w.blockwiseRead(t, ctx, mode))
	}
	rep.Rows = append(rep.Rows, w.restart(t, ctx))
	largest := w.largest(t)
	rep.Memory = w.idleRSS(t, ctx)
	if !rep.Memory.Measured {
		t.Errorf("resident set of run: %s", rep.Memory.Why)
	}
	w.stop(t, ctx)

	// World 2: HelloVerifyRequest off.
	w2 := newBudgetWorld(t, true, false)
	hs2 := w2.handshake(t, ctx, "dtls_handshake_no_hvr", "full DTLS-over-SMS PSK handshake without HelloVerifyRequest")
	if n := hs2.SMSToDevice + hs2.SMSFromDevice; n > maxHandshakeSMSWithoutHVR {
		t.Errorf("handshake without HelloVerifyRequest: %d SMS, want at most %d", n, maxHandshakeSMSWithoutHVR)
	}
	rep.Rows = append(rep.Rows[:1], append([]budgetRow{hs2}, rep.Rows[1:]...)...)
	largest = max(largest, w2.largest(t))
	w2.stop(t, ctx)

	// World 3: binding S, the registration itself over SMS.
	w3 := newBudgetWorld(t, false, true)
	for _, mode := range server.SMSModes {
		reg, notify := w3.overSMS(t, ctx, mode)
		rep.Rows = append(rep.Rows, reg, notify)
	}
	largest = max(largest, w3.largest(t))

	rep.LargestSMS = largest
	if largest > atpdu.MaxUDOctets {
		t.Errorf("an SMS carried %d octets of user data, over %d", largest, atpdu.MaxUDOctets)
	}
	rep.CoAP, rep.Payload = payloadPerSMS(t, w.m, triggers)

	if !bench || t.Failed() {
		t.Log("\n" + rep.table())
		return
	}
	rep.Binaries = binarySizes()
	out, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(os.Getenv(budgetOutEnv), append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	// `go test` shows a passing test's output only with -v: print the
	// table on stdout for `make bench`.
	fmt.Print(rep.table())
}

// budgetWorld is the demo's emulated world with one daemon running.
type budgetWorld struct {
	m   *demo
	log bytes.Buffer // the world's and the daemon's logs, shown on failure
}

func newBudgetWorld(t *testing.T, skipHVR, smsRegistry bool) *budgetWorld {
	t.Helper()
	w := &budgetWorld{}
	m, err := newDemo(io.Discard, &w.log, demoOptions{simPath: "../../configs/emulator-sim.yaml", skipHelloVerify: skipHVR, smsRegistry: smsRegistry})
	if err != nil {
		t.Fatal(err)
	}
	w.m = m
	// Poll the SIM for downloaded secured packets more often than the
	// shipped 1 s: it shortens the test, not the SMS count.
	m.cfg.UICC.PollInterval = config.Duration(100 * time.Millisecond)
	m.cfg.Device = budgetDevice
	t.Cleanup(func() {
		if m.running != nil {
			m.running.stop()
			<-m.running.done
			m.running = nil
		}
		m.close()
		if t.Failed() {
			t.Logf("world log:\n%s", w.log.String())
		}
	})
	return w
}

func (w *budgetWorld) stop(t *testing.T, ctx context.Context) {
	t.Helper()
	if w.m.running == nil {
		return
	}
	if err := w.m.stopDaemon(ctx); err != nil {
		t.Fatal(err)
	}
}

func (w *budgetWorld) stats(mode server.SMSMode) server.SMSCounters { return w.m.sms.Stats()[mode] }

// handshake starts the daemon, waits for the three registrations over UDP
// and the DTLS session a binding with S opens at start-up, and returns what
// that handshake cost (before it, no SMS went either way in DTLS mode).
func (w *budgetWorld) handshake(t *testing.T, ctx context.Context, name, what string) budgetRow {
	t.Helper()
	if err := w.m.startDaemon(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.m.registered(ctx, "registration"); err != nil {
		t.Fatal(err)
	}
	if err := w.m.waitDTLS(ctx); err != nil {
		t.Fatal(err)
	}
	c := w.stats(server.SMSDTLS)
	if c.Handshakes != 1 || c.HandshakeIn != c.In || c.HandshakeOut != c.Out {
		t.Errorf("%s: counters %+v, want one handshake and nothing else", name, c)
	}
	return budgetRow{Name: name, What: what, Measured: true, SMSToDevice: int(c.HandshakeOut), SMSFromDevice: int(c.HandshakeIn),
		OctetsToDevice: int(c.BytesOut), OctetsFromDevice: int(c.BytesIn), LargestSMS: c.Largest}
}

// trigger is Execute /1/x/8 over SMS in mode (answered 2.04 by SMS, then
// the Update over UDP) with a live session.
func (w *budgetWorld) trigger(t *testing.T, ctx context.Context, mode server.SMSMode) budgetRow {
	t.Helper()
	r, err := w.m.trigger(ctx, mode) // fails unless 1 SMS each way
	if err != nil {
		t.Fatal(err)
	}
	return budgetRow{Name: "trigger_" + rowMode(mode), What: "Registration Update Trigger (Execute /1/x/8) → 2.04, " + mode.String() + ", live session",
		Measured: true, SMSToDevice: int(r.trigger.Out), SMSFromDevice: int(r.trigger.In),
		OctetsToDevice: int(r.trigger.BytesOut), OctetsFromDevice: int(r.trigger.BytesIn)}
}

func rowMode(mode server.SMSMode) string { return strings.ReplaceAll(mode.String(), "-", "_") }

// budgetReadPath is what the block-wise row reads: the Device object
// instance in LwM2M JSON (LwM2M-TS 1.0 §6.4.4, Content-Format 11543). With
// budgetDevice's values (what a gateway maker would put there, longer than
// the demo's "demo") it is about 300 octets.
const (
	budgetReadPath   = "/3/0"
	budgetReadFormat = 11543
)

var budgetDevice = config.Device{
	Manufacturer: "Example Industrial Gateways Ltd",
	Model:        "EIG-4400 LTE Cat-4 cellular gateway",
	Serial:       "EIG4400-2026-000123456",
	Firmware:     "lwm2m-clientd 1.0.0 linux/armv7",
}

// currentTime matches the Current Time resource (/3/0/13) in LwM2M JSON:
// the one value of budgetReadPath that changes between two reads.
var currentTime = regexp.MustCompile(`"n":"13","v":[0-9]+`)

// blockwiseRead reads budgetReadPath over SMS in mode with Block2 (RFC 7959
// §2.4): the device answers in blocks of daemon.SMSBlockSize octets, the
// server asks for each next block with a new token. The result must equal
// the same Read over UDP.
func (w *budgetWorld) blockwiseRead(t *testing.T, ctx context.Context, mode server.SMSMode) budgetRow {
	t.Helper()
	udp, err := w.m.udp[mode].Client(demoEndpoint).Read(ctx, budgetReadPath, budgetReadFormat)
	if err != nil || udp.Code != codes.Content {
		t.Fatalf("read %s over UDP: %v %v", budgetReadPath, udp.Code, err)
	}
	szx := uint32(0)
	for 16<<szx < daemon.SMSBlockSize {
		szx++
	}
	before := w.stats(mode)
	c := w.m.sms.SMS(mode, demoDevice)
	var got []byte
	blocks := 0
	for num := uint32(0); ; num++ {
		opts, _, err := message.Options{}.SetPath(make([]byte, 32), budgetReadPath)
		if err != nil {
			t.Fatal(err)
		}
		opts, _, _ = opts.SetUint32(make([]byte, 4), message.Accept, budgetReadFormat)
		if num > 0 { // the first request asks for no block size (as servers do)
			opts, _, _ = opts.SetUint32(make([]byte, 4), message.Block2, num<<4|szx)
		}
		r, err := c.Request(ctx, message.Message{Code: codes.GET, Options: opts})
		if err != nil || r.Code != codes.Content {
			t.Fatalf("%s: read %s block %d over SMS: %v %v", mode, budgetReadPath, num, r.Code, err)
		}
		if len(r.Payload) > daemon.SMSBlockSize {
			t.Fatalf("%s: block %d carries %d octets, over %d", mode, num, len(r.Payload), daemon.SMSBlockSize)
		}
		got = append(got, r.Payload...)
		blocks++
		if len(r.Payload) < daemon.SMSBlockSize || len(got) >= len(udp.Payload) {
			break
		}
	}
	mask := func(b []byte) []byte { return currentTime.ReplaceAll(b, []byte(`"n":"13","v":T`)) }
	if len(got) != len(udp.Payload) || !bytes.Equal(mask(got), mask(udp.Payload)) || !json.Valid(got) {
		t.Fatalf("%s: block-wise read over SMS gave %q, over UDP %q", mode, got, udp.Payload)
	}
	after := w.stats(mode)
	if int(after.Out-before.Out) != blocks || int(after.In-before.In) != blocks {
		t.Errorf("%s: %d blocks cost %d SMS to the device and %d back, want one each way per block", mode, blocks, after.Out-before.Out, after.In-before.In)
	}
	return budgetRow{Name: "read_blockwise_" + rowMode(mode),
		What: fmt.Sprintf("Read %s as LwM2M JSON (%d octets) over SMS, %s, Block2 with %d-octet blocks: %d blocks",
			budgetReadPath, len(got), mode, daemon.SMSBlockSize, blocks),
		Measured: true, SMSToDevice: int(after.Out - before.Out), SMSFromDevice: int(after.In - before.In),
		OctetsToDevice: int(after.BytesOut - before.BytesOut), OctetsFromDevice: int(after.BytesIn - before.BytesIn)}
}

// restart stops the daemon, starts it again and triggers over DTLS: the
// session is restored from the state directory, so the handshake row is
// what the restart cost in handshake SMS (expected 0).
func (w *budgetWorld) restart(t *testing.T, ctx context.Context) budgetRow {
	t.Helper()
	before := w.stats(server.SMSDTLS)
	if err := w.m.stopDaemon(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.m.startDaemon(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.m.registered(ctx, "restart"); err != nil {
		t.Fatal(err)
	}
	r, err := w.m.trigger(ctx, server.SMSDTLS)
	if err != nil {
		t.Fatal(err)
	}
	after := w.stats(server.SMSDTLS)
	row := budgetRow{Name: "dtls_handshake_after_restart", What: "DTLS handshake SMS after a daemon restart (session restored from the state directory), measured around the first DTLS trigger",
		Measured: true, SMSToDevice: int(after.HandshakeOut - before.HandshakeOut), SMSFromDevice: int(after.HandshakeIn - before.HandshakeIn),
		OctetsToDevice:   int(after.BytesOut-before.BytesOut) - int(r.trigger.BytesOut),
		OctetsFromDevice: int(after.BytesIn-before.BytesIn) - int(r.trigger.BytesIn)}
	if after.Handshakes != before.Handshakes || row.SMSToDevice+row.SMSFromDevice != 0 || row.OctetsToDevice != 0 || row.OctetsFromDevice != 0 {
		t.Errorf("a restart cost a handshake: %+v", row)
	}
	return row
}

// largest is the largest user data of any SMS in the world so far, either
// way.
func (w *budgetWorld) largest(t *testing.T) int {
	t.Helper()
	n := 0
	for _, s := range w.m.net.Sent() {
		if s.From != demoDevice {
			continue
		}
		sub, err := atpdu.DecodeSubmit(s.PDU)
		if err != nil {
			t.Fatalf("device SMS-SUBMIT %x: %v", s.PDU, err)
		}
		n = max(n, len(sub.UD)+sub.UDH.Len())
	}
	for _, c := range w.m.sms.Stats() {
		n = max(n, c.Largest)
	}
	return n
}

// payloadPerSMS computes what one SMS leaves for the payload in each mode
// from the codecs themselves: go-coap's encoder for the CoAP overhead, the
// measured difference between the DTLS and the NoSec trigger for the DTLS
// record (checked against smsdtls.RecordOverhead), and the securedpacket
// sealer and splitter with the SIM profile's SPI, keys and TAR for the
// secured packet (the emulated SIM seals its packets the same way).
func payloadPerSMS(t *testing.T, m *demo, triggers map[server.SMSMode]budgetRow) (coapOverhead, []payloadRow) {
	t.Helper()
	resp := coapSize(t, false, 0)
	notif := coapSize(t, true, 0)
	over := coapOverhead{Response: resp, Notification: notif}

	nosec, dtlsT, spT := triggers[server.SMSNoSec], triggers[server.SMSDTLS], triggers[server.SMSSecurePacket]
	dtlsOver := dtlsT.OctetsToDevice - nosec.OctetsToDevice
	if back := dtlsT.OctetsFromDevice - nosec.OctetsFromDevice; back != dtlsOver || dtlsOver != smsdtls.RecordOverhead {
		t.Errorf("DTLS record overhead measured %d (to the device) and %d (from it), smsdtls.RecordOverhead %d", dtlsOver, back, smsdtls.RecordOverhead)
	}
	spc, err := server.SecurePacketFromProfile(m.prof)
	if err != nil {
		t.Fatal(err)
	}
	// The secured packet's size for the trigger and its 2.04 must be what
	// the sealer gives for the same CoAP lengths.
	for _, c := range []struct{ coap, sms int }{{nosec.OctetsToDevice, spT.OctetsToDevice}, {nosec.OctetsFromDevice, spT.OctetsFromDevice}} {
		if n, parts := sealedSize(t, spc, c.coap); n != c.sms || parts != 1 {
			t.Errorf("secured packet of a %d-octet CoAP message: sealer says %d octets in %d SMS, measured %d", c.coap, n, parts, c.sms)
		}
	}
	maxSP := 0
	for n := 1; n <= atpdu.MaxUDOctets; n++ {
		if size, parts := sealedSize(t, spc, n); parts == 1 && size <= atpdu.MaxUDOctets {
			maxSP = n
		}
	}
	rows := []payloadRow{
		{Mode: server.SMSNoSec.String(), SecurityOverhead: 0, MaxCoAP: atpdu.MaxUDOctets},
		{Mode: server.SMSDTLS.String(), SecurityOverhead: dtlsOver, MaxCoAP: atpdu.MaxUDOctets - dtlsOver},
		{Mode: server.SMSSecurePacket.String(), SecurityOverhead: atpdu.MaxUDOctets - maxSP, MaxCoAP: maxSP},
	}
	// The daemon sizes its Register blocks with the same limits.
	for _, c := range []struct {
		mode smsbind.Mode
		row  payloadRow
	}{{smsbind.ModeNoSec, rows[0]}, {smsbind.ModeDTLS, rows[1]}, {smsbind.ModeSecurePacket, rows[2]}} {
		if d := daemon.SMSMaxCoAP(c.mode); d != c.row.MaxCoAP {
			t.Errorf("%s: the largest CoAP message in one SMS is %d, daemon.SMSMaxCoAP says %d", c.row.Mode, c.row.MaxCoAP, d)
		}
	}
	for i := range rows {
		rows[i].Response = rows[i].MaxCoAP - resp
		rows[i].Notification = rows[i].MaxCoAP - notif
		// The computation holds: a message of exactly MaxCoAP octets
		// encodes to that size.
		if n := coapSize(t, false, rows[i].Response) + rows[i].Response; n != rows[i].MaxCoAP {
			t.Errorf("%s: a response with %d payload octets is %d octets, want %d", rows[i].Mode, rows[i].Response, n, rows[i].MaxCoAP)
		}
	}
	return over, rows
}

// coapSize is the size of a 2.05 Content (piggy-backed ACK, 2-byte token,
// Content-Format TLV) — with observe a notification carrying a 3-octet
// Observe sequence number — minus its payload of n octets (at least 1:
// the payload marker counts as overhead).
func coapSize(t *testing.T, observe bool, n int) int {
	t.Helper()
	n = max(n, 1)
	opts, _, err := message.Options{}.SetContentFormat(make([]byte, 4), message.AppLwm2mTLV)
	if err != nil {
		t.Fatal(err)
	}
	typ := message.Acknowledgement
	if observe {
		typ = message.NonConfirmable
		if opts, _, err = opts.SetObserve(make([]byte, 4), 0x010000); err != nil {
			t.Fatal(err)
		}
	}
	size, err := coder.DefaultCoder.Size(message.Message{Type: typ, Code: codes.Content, MessageID: 1,
		Token: make([]byte, budgetTokenLen), Options: opts, Payload: make([]byte, n)})
	if err != nil {
		t.Fatal(err)
	}
	return size - n
}

// sealedSize is the user data (UDH included) of the secured packet carrying
// a CoAP message of n octets, and in how many SMS.
func sealedSize(t *testing.T, spc server.SecurePacket, n int) (octets, parts int) {
	t.Helper()
	sd, err := sp.AppendCoAP(nil, make([]byte, n))
	if err != nil {
		t.Fatal(err)
	}
	pkt, err := sp.SealCommand(nil, sp.Command{Header: spc.Header, Counter: 1, Data: sd}, spc.Keys)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := sp.SplitCommand(pkt, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		octets = max(octets, len(p))
	}
	return octets, len(ps)
}

// idleRSS runs the stripped binary's `run` as a child against this world
// (with its own fresh state directory: it registers and opens the DTLS
// session) and reads its peak and current resident set once it is
// registered at the three servers, holds the DTLS session and the modem is
// up.
func (w *budgetWorld) idleRSS(t *testing.T, ctx context.Context) memoryRow {
	t.Helper()
	row := memoryRow{What: "lwm2m-clientd run (the stripped binary of make build), idle after registering at 3 servers with binding UQS, one DTLS-over-SMS session, modem up; from /proc/PID/status"}
	bin := os.Getenv(budgetBinEnv)
	if err := w.m.stopDaemon(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(w.m.configYAML(w.m.prof)), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "control.sock")
	hs0 := w.stats(server.SMSDTLS).Handshakes
	var stderr bytes.Buffer
	args := []string{"run", "--config", cfgPath, "--state-dir", filepath.Join(dir, "state"), "--modem-port", w.m.link, "--control-socket", sock}
	var cmd *exec.Cmd
	if bin != "" {
		cmd = exec.CommandContext(ctx, bin, args...)
	} else {
		// make test: this test binary as the daemon, so that the path
		// make bench takes is tested too; the number is not reported.
		cmd = selfCommand(ctx, args...)
		row.What = "this test binary re-executed as lwm2m-clientd run (make test; make bench measures the stripped binary)"
	}
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("run stderr:\n%s", stderr.String())
		}
	}()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		for _, mode := range server.SMSModes {
			_, _ = w.m.next(ctx, mode, server.Deregistered)
		}
	}()
	for _, mode := range server.SMSModes {
		if _, err := w.m.next(ctx, mode, server.Registered); err != nil {
			t.Fatal(err)
		}
	}
	for w.stats(server.SMSDTLS).Handshakes == hs0 {
		select {
		case <-ctx.Done():
			t.Fatal("the child opened no DTLS session")
		case <-time.After(10 * time.Millisecond):
		}
	}
	st := statusUntil(t, ctx, sock, func(st control.Status) bool {
		if st.Modem == nil || st.Modem.State != control.ModemUp || len(st.Servers) != 3 {
			return false
		}
		for _, s := range st.Servers {
			if !s.Registered {
				return false
			}
		}
		return true
	})
	if st.Modem == nil || st.Modem.State != control.ModemUp {
		t.Fatalf("child status %+v", st)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	row.VmHWMKiB, row.VmRSSKiB = procKiB(status, "VmHWM:"), procKiB(status, "VmRSS:")
	row.Measured = row.VmHWMKiB > 0
	if !row.Measured {
		row.Why = "no VmHWM in /proc/PID/status"
	}
	return row
}

// procKiB reads "Key:   1234 kB" from /proc/PID/status.
func procKiB(status []byte, key string) int {
	for line := range strings.SplitSeq(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == key && f[2] == "kB" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// binarySizes reads the sizes of `make cross`'s stripped binaries.
func binarySizes() []binaryRow {
	dir := os.Getenv(budgetCrossEnv)
	var rows []binaryRow
	for _, arch := range []string{"amd64", "armv7", "arm64", "mipsle"} {
		r := binaryRow{Arch: arch}
		if dir == "" {
			r.Why = budgetCrossEnv + " is not set"
		} else if fi, err := os.Stat(filepath.Join(dir, "lwm2m-clientd-linux-"+arch)); err != nil {
			r.Why = err.Error()
		} else {
			r.Measured, r.Bytes = true, fi.Size()
		}
		rows = append(rows, r)
	}
	return rows
}

// table is the report for people.
func (rep budgetReport) table() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SMS budget\tSMS to device\tSMS from device\toctets to device\toctets from device\twhat")
	for _, r := range rep.Rows {
		if !r.Measured {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\tnot measured: %s\n", r.Name, r.Why)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", r.Name, r.SMSToDevice, r.SMSFromDevice, r.OctetsToDevice, r.OctetsFromDevice, r.What)
	}
	_ = tw.Flush()
	fmt.Fprintf(&b, "largest SMS seen: %d octets of user data (limit %d)\n\n", rep.LargestSMS, rep.SMSLimit)
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "payload per SMS (%d-byte token)\tsecurity overhead\tlargest CoAP message\tpayload in a 2.05 (CoAP overhead %d)\tpayload in a notification (CoAP overhead %d)\n",
		rep.TokenLen, rep.CoAP.Response, rep.CoAP.Notification)
	for _, p := range rep.Payload {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", p.Mode, p.SecurityOverhead, p.MaxCoAP, p.Response, p.Notification)
	}
	_ = tw.Flush()
	b.WriteString("\n")
	if rep.Memory.Measured {
		fmt.Fprintf(&b, "memory: VmHWM %d KiB, VmRSS %d KiB: %s\n", rep.Memory.VmHWMKiB, rep.Memory.VmRSSKiB, rep.Memory.What)
	} else if rep.Memory.What != "" {
		fmt.Fprintf(&b, "memory: not measured: %s\n", rep.Memory.Why)
	}
	for _, bin := range rep.Binaries {
		if bin.Measured {
			fmt.Fprintf(&b, "stripped binary linux/%s: %d bytes (%.1f MiB)\n", bin.Arch, bin.Bytes, float64(bin.Bytes)/(1<<20))
		} else {
			fmt.Fprintf(&b, "stripped binary linux/%s: not measured: %s\n", bin.Arch, bin.Why)
		}
	}
	return b.String()
}

// overSMS runs the daemon with only mode's server account, binding S: the
// Register, the server's requests and the notifications travel as SMS in
// that mode. It starts the daemon twice and measures the second Register,
// so that the DTLS row holds no handshake (the first start's, like every
// full handshake, is the handshake rows'); then an Observe of /3/0/0 with
// pmax=1 and its first notification.
func (w *budgetWorld) overSMS(t *testing.T, ctx context.Context, mode server.SMSMode) (reg, notify budgetRow) {
	t.Helper()
	cfg, err := config.Parse("budget.yaml", []byte(w.m.configYAML(w.m.prof)))
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range server.SMSModes {
		if m == mode {
			cfg.Servers = cfg.Servers[i : i+1]
		}
	}
	cfg.Servers[0].Binding = "S"
	cfg.Servers[0].URI = w.m.smsReg.URI()
	cfg.StateDir = t.TempDir()
	cfg.UICC.PollInterval = config.Duration(100 * time.Millisecond)
	cfg.Device = budgetDevice

	start := func() (*daemon.Daemon, func(), server.Event) {
		t.Helper()
		d, err := daemon.New(cfg, daemon.Options{Logger: w.m.log.With("side", "daemon"), ModemPort: w.m.link})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- d.Run(rctx) }()
		stop := func() {
			t.Helper()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("daemon: %v", err)
			}
			w.smsRegEvent(t, ctx, server.Deregistered)
		}
		ev := w.smsRegEvent(t, ctx, server.Registered)
		// The server emits the event before its 2.01 goes out: the
		// Register is over once the client has it.
		for !registeredOverSMS(d) {
			select {
			case <-ctx.Done():
				t.Fatalf("%s: the daemon never saw its Register answered", mode)
			case <-time.After(5 * time.Millisecond):
			}
		}
		return d, stop, ev
	}
	_, stop, _ := start()
	stop()
	before := w.stats(mode)
	_, stop, ev := start()
	defer stop()
	after := w.stats(mode)
	if ev.Query["b"] != "S" {
		t.Errorf("%s: registered with binding %q, want S", mode, ev.Query["b"])
	}
	if after.HandshakeIn != before.HandshakeIn || after.HandshakeOut != before.HandshakeOut {
		t.Errorf("%s: the second Register cost a DTLS handshake", mode)
	}
	reg = budgetRow{Name: "register_" + rowMode(mode),
		What:     fmt.Sprintf("Register over SMS (binding S, %d octets of links) → 2.01, %s, live session", len(ev.Links), mode),
		Measured: true, SMSToDevice: int(after.Out - before.Out), SMSFromDevice: int(after.In - before.In),
		OctetsToDevice: int(after.BytesOut - before.BytesOut), OctetsFromDevice: int(after.BytesIn - before.BytesIn)}

	if mode == server.SMSNoSec { // the one mode whose SMS the test can read
		if n := w.registerToken(t, w.m.sms.Number(mode)); n != budgetTokenLen {
			t.Errorf("the Register over SMS has a %d-octet token, want %d", n, budgetTokenLen)
		}
	}

	c := w.m.smsReg.Client(demoEndpoint)
	if c == nil {
		t.Fatalf("%s: %s not in the SMS registry", mode, demoEndpoint)
	}
	if r, err := c.WriteAttributes(ctx, "/3/0/0", "pmax=1"); err != nil || r.Code != codes.Changed {
		t.Fatalf("%s: write attributes over SMS: %v %v", mode, r.Code, err)
	}
	o, err := c.Observe(ctx, "/3/0/0", -1)
	if err != nil {
		t.Fatalf("%s: Observe over SMS: %v", mode, err)
	}
	// The first notification is the row. Over SMS the engine sends them
	// NON, with a CON (and the server's ACK) once per
	// lwm2m.ConfirmableNotifyInterval. The server's connection handles one
	// message after the other, so by the time the second notification
	// (pmax later) reaches o.C() the ACK of a CON first one has gone out:
	// SMS from the device are counted at the first, SMS to it at the second.
	before = w.stats(mode)
	next := func() server.Notification {
		t.Helper()
		select {
		case n := <-o.C():
			return n
		case <-ctx.Done():
			t.Fatalf("%s: no notification over SMS", mode)
		}
		return server.Notification{}
	}
	n := next()
	first := w.stats(mode)
	next()
	second := w.stats(mode)
	if string(n.Payload) != budgetDevice.Manufacturer {
		t.Errorf("%s: notification %q", mode, n.Payload)
	}
	kind := "NON"
	if second.Out > before.Out {
		kind = "CON, and the server's ACK"
	}
	notify = budgetRow{Name: "notify_" + rowMode(mode),
		What:     fmt.Sprintf("one Observe notification of /3/0/0 (%d octets of text) over SMS (%s), %s; the emulated server's Observe token is 8 octets (go-coap's default), 6 more than a 2-byte token", len(n.Payload), kind, mode),
		Measured: true, SMSToDevice: int(second.Out - before.Out), SMSFromDevice: int(first.In - before.In),
		OctetsToDevice: int(second.BytesOut - before.BytesOut), OctetsFromDevice: int(first.BytesIn - before.BytesIn)}
	// The Register's links list Connectivity Monitoring (</4/0>, 25
	// octets of links, 98 of CoAP): more than one secured packet holds
	// (96), so the SIM sends it as two concatenated SMS.
	regFrom := 1
	if mode == server.SMSSecurePacket {
		regFrom = 2
	}
	if reg.SMSFromDevice != regFrom || reg.SMSToDevice != 1 || notify.SMSFromDevice != 1 || notify.SMSToDevice > 1 {
		t.Errorf("%s: Register %d/%d SMS, notification %d/%d, want %d from the device and 1 back for the Register, 1 from the device and at most the ACK for the notification", mode,
			reg.SMSFromDevice, reg.SMSToDevice, notify.SMSFromDevice, notify.SMSToDevice, regFrom)
	}
	return reg, notify
}

// registeredOverSMS reports whether the daemon's only registration is up.
func registeredOverSMS(d *daemon.Daemon) bool {
	e := d.Engine()
	if e == nil {
		return false
	}
	st := e.State()
	return len(st) == 1 && st[0].State == "registered"
}

// smsRegEvent waits for the next event of kind k from the SMS registry.
func (w *budgetWorld) smsRegEvent(t *testing.T, ctx context.Context, k server.EventKind) server.Event {
	t.Helper()
	for {
		select {
		case ev := <-w.m.smsRegEvents:
			if ev.Kind == k {
				return ev
			}
		case <-ctx.Done():
			t.Fatalf("no %s over SMS", k)
		}
	}
}

// registerToken is the token length of the last Register (POST /rd) the
// device sent in plain CoAP to number.
func (w *budgetWorld) registerToken(t *testing.T, number string) int {
	t.Helper()
	n := -1
	for _, sent := range w.m.net.Sent() {
		if sent.From != demoDevice || sent.To != number {
			continue
		}
		sub, err := atpdu.DecodeSubmit(sent.PDU)
		if err != nil {
			t.Fatal(err)
		}
		m := message.Message{Options: make(message.Options, 0, 16)}
		if _, err := coder.DefaultCoder.Decode(sub.UD, &m); err != nil {
			continue
		}
		if p, _ := m.Options.Path(); m.Code == codes.POST && strings.Trim(p, "/") == "rd" {
			n = len(m.Token)
		}
	}
	return n
}
