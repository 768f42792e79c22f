package main

// The daemon killed with SIGKILL at random points while SMS arrive (issue
// 10): `run` is a child process (selfCommand) with configs/sms-dtls.yaml,
// the emulated modem, network, SIM and LwM2M server (UDP registration and
// the DTLS-over-SMS side) live in the test process, so that they survive
// every kill. After each kill the state directory must load without
// falling back to a previous copy; at the end every request the server
// sent by SMS has been answered, the modem's SMS storage is empty, and the
// DTLS record sequence numbers the device sent never went backwards across
// a restart (the persisted reservations of RFC 6347 §4.1 sequence numbers:
// a reused one would reuse an AES-CCM nonce).

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	emu "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/network"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/sim"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/store"
)

const (
	killDevice    = "+33611111111" // configs/sms-dtls.yaml modem.own_number
	killDTLSNr    = "+33600000002" // its server's SMS number
	killPSKIdent  = "lwm2m-clientd-test"
	killKills     = 100 // the count
	killKillsEmul = 30  // under LWM2M_TEST_EXEC (qemu-arm: ~0.65 s per start, measured)
	// killMaxDelay bounds the random kill point after a start: start-up,
	// session restore, registration and SMS handling all fall inside it.
	killMaxDelay = 1200 * time.Millisecond
)

var killPSK = []byte{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}

// killSeed is LWM2M_KILL_SEED when set (to replay a failure), else random.
func killSeed(t *testing.T) uint64 {
	if s := os.Getenv("LWM2M_KILL_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("LWM2M_KILL_SEED: %v", err)
		}
		return v
	}
	return rand.Uint64()
}

func TestKillWhileSMSArrive(t *testing.T) {
	kills := killKills
	if os.Getenv("LWM2M_TEST_EXEC") != "" || testing.Short() {
		kills = killKillsEmul
	}
	seed := killSeed(t)
	t.Logf("seed %d (replay with LWM2M_KILL_SEED=%d), %d kills", seed, seed, kills)
	rng := rand.New(rand.NewPCG(seed, seed^0x5DEECE66D))
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	dir := t.TempDir()
	link := filepath.Join(dir, "modem")
	stateDir := filepath.Join(dir, "state")

	net := network.New(network.Config{Seed: seed, RetryInterval: 200 * time.Millisecond, MaxAttempts: 1000})
	defer net.Close()
	prof, err := sim.LoadProfile("../../configs/emulator-sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	card, err := sim.New(prof, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	em, err := emu.New(emu.Config{Link: link, Number: killDevice, SIM: card, Network: net})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	// A +CMT the killed daemon never acknowledges goes back to the network
	// after this (scaled down from a real modem's ~20 s, TS 27.005
	// §3.4.4); the modem then stores further SMS without indication.
	em.SetQuirks(func(q *emu.Quirks) { q.AckTimeout = 500 * time.Millisecond })
	net.Attach(killDevice, em)
	lw, err := server.Start(server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer lw.Close()
	events := lw.Subscribe()
	// The server side's log, shown when the test fails.
	srvLog := &logBuffer{grew: make(chan struct{}, 1)}
	defer func() {
		if t.Failed() {
			lines := strings.Split(srvLog.String(), "\n")
			t.Logf("server SMS side's log (last 60 lines):\n%s", strings.Join(lines[max(0, len(lines)-60):], "\n"))
		}
	}()
	smsSrv, err := server.StartSMS(server.SMSConfig{
		Network: net, Numbers: map[server.SMSMode]string{server.SMSDTLS: killDTLSNr},
		PSKIdentity: []byte(killPSKIdent), PSK: killPSK,
		InitialRTO: 2 * time.Second, RetransmitInterval: time.Second,
		Log: slog.New(slog.NewTextHandler(srvLog, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer smsSrv.Close()

	src, err := os.ReadFile("../../configs/sms-dtls.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfgText := strings.Replace(strings.ReplaceAll(string(src), "coap://127.0.0.1:5683", lw.URI()), "level: info", "level: debug", 1)
	// Flood limits out of the way: the server's retries over 100 restarts
	// are legitimate traffic.
	cfgText = strings.Replace(cfgText, "per_sender: {count: 10, interval: 1m}", "per_sender: {count: 1000, interval: 1m}", 1)
	cfgText = strings.Replace(cfgText, "global: {count: 30, interval: 1m}", "global: {count: 1000, interval: 1m}", 1)
	cfgPaths := map[string]string{}
	for _, delivery := range []string{"auto", "stored"} {
		p := filepath.Join(dir, "config-"+delivery+".yaml")
		if err := os.WriteFile(p, []byte(strings.Replace(cfgText, "sms_delivery: auto", "sms_delivery: "+delivery, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		cfgPaths[delivery] = p
	}
	sock := filepath.Join(dir, "control.sock")

	var last *logBuffer // the latest child's stderr
	start := func(delivery string) *exec.Cmd {
		t.Helper()
		last = &logBuffer{grew: make(chan struct{}, 1)}
		cmd := selfCommand(ctx, "run", "--config", cfgPaths[delivery], "--state-dir", stateDir, "--modem-port", link, "--control-socket", sock)
		cmd.Stderr = last
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	defer func() {
		if t.Failed() && last != nil {
			t.Logf("last daemon's stderr:\n%s", last.String())
		}
	}()

	// Once the session is up, the server keeps a Read of /3/0/0 in flight
	// over DTLS-over-SMS until told to stop, each re-sent every second
	// until answered. One at a time: the emulated server draws 2-byte
	// tokens at random and does not check them against its requests in
	// flight, so two concurrent requests collide once in 65,536 pairs and
	// one of them then never sees its answer.
	var (
		genWG    sync.WaitGroup
		genMu    sync.Mutex
		issued   int
		answered int
		failures []string
	)
	genCtx, stopGen := context.WithCancel(ctx)
	defer stopGen()
	startGen := func() {
		genWG.Go(func() {
			for genCtx.Err() == nil {
				genMu.Lock()
				issued++
				genMu.Unlock()
				// Not genCtx: a request in flight must finish even after
				// the generator stops issuing.
				rctx, rcancel := context.WithTimeout(ctx, 2*time.Minute)
				resp, err := smsSrv.SMS(server.SMSDTLS, killDevice).Read(rctx, "/3/0/0", -1)
				rcancel()
				genMu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case resp.Code != codes.Content || string(resp.Payload) != "lwm2m-clientd":
					failures = append(failures, fmt.Sprintf("response %v %q", resp.Code, resp.Payload))
				default:
					answered++
				}
				genMu.Unlock()
			}
		})
	}

	// boundaries[k] is how many SMS the network had carried when daemon
	// k was killed.
	var boundaries []int
	t0 := time.Now()
	for k := range kills {
		delivery := []string{"auto", "stored"}[rng.IntN(2)]
		cmd := start(delivery)
		if k == 0 {
			// The first start opens the DTLS session (binding UQS);
			// after it every start restores it.
			waitFor(t, ctx, events, server.Registered)
			for !smsSrv.DTLSEstablished(killDevice) {
				select {
				case <-ctx.Done():
					t.Fatalf("no DTLS session:\n%s", last.String())
				case <-time.After(20 * time.Millisecond):
				}
			}
			startGen()
		}
		delay := time.Duration(rng.Int64N(int64(killMaxDelay)))
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("kill %d: the daemon exited by itself before the kill (%v):\n%s", k, err, last.String())
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("kill %d: the daemon exited by itself before the kill (%v):\n%s", k, err, last.String())
		}
		boundaries = append(boundaries, len(net.Sent()))
		checkStateLoads(t, stateDir, k)
		if strings.Contains(last.String(), "STATE DAMAGED") || strings.Contains(last.String(), "level=ERROR") {
			t.Fatalf("kill %d: the daemon logged an error:\n%s", k, last.String())
		}
	}
	killTime := time.Since(t0)

	// The last start runs undisturbed: the server stops issuing, every
	// request in flight is answered, and nothing is left on the modem.
	stopGen()
	cmd := start("auto")
	waitFor(t, ctx, events, server.Registered)
	genDone := make(chan struct{})
	go func() { genWG.Wait(); close(genDone) }()
	select {
	case <-genDone:
	case <-ctx.Done():
		t.Fatalf("requests still unanswered:\n%s", last.String())
	}
	for len(em.Stored()) > 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("%d SMS left on the modem", len(em.Stored()))
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("last run: %v\n%s", err, last.String())
	}
	checkStateLoads(t, stateDir, kills)
	boundaries = append(boundaries, len(net.Sent()))

	genMu.Lock()
	defer genMu.Unlock()
	t.Logf("%d kills in %v (%v per start); the server's %d Reads over SMS: %d answered; %d SMS on the network",
		kills, killTime.Round(time.Millisecond), (killTime / time.Duration(kills)).Round(time.Millisecond), issued, answered, len(net.Sent()))
	if len(failures) > 0 || answered != issued {
		t.Errorf("%d of %d requests answered; failures: %q", answered, issued, failures)
	}
	if answered < kills/10 {
		t.Errorf("only %d requests answered in %d restarts", answered, kills)
	}
	checkSequences(t, net.Sent(), boundaries)
	if st := smsSrv.Stats()[server.SMSDTLS]; st.Handshakes != 1 {
		t.Errorf("%d DTLS handshakes, want 1 (every restart restores the session): %+v", st.Handshakes, st)
	}
}

// checkStateLoads opens the state directory as the next start will and
// reads every key: none may be damaged or need its previous copy (writes
// are atomic renames, so a kill never damages a file; only a power loss
// could).
func checkStateLoads(t *testing.T, dir string, k int) {
	t.Helper()
	st, err := store.Open(dir, nil)
	if err != nil {
		t.Fatalf("after kill %d: open state: %v", k, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		key, ok := strings.CutSuffix(e.Name(), ".state")
		if !ok {
			continue
		}
		n++
		if _, recovered, err := st.ReadStateChecked(key); err != nil || recovered {
			t.Fatalf("after kill %d: state %s: recovered %v, %v", k, key, recovered, err)
		}
	}
	if k > 0 && n == 0 {
		t.Fatalf("after kill %d: no state at all", k)
	}
}

// checkSequences checks the DTLS records the device sent (RFC 6347 §4.1:
// type, version, epoch, 48-bit sequence number, length): within one
// session (from one ClientHello to the next) no epoch-1 sequence number is
// used twice, and the first record of each daemon process is above every
// record of the processes before it.
func checkSequences(t *testing.T, sent []network.Sent, boundaries []int) {
	t.Helper()
	seen := map[uint64]bool{}
	var maxBefore, maxNow uint64
	var before, now bool // whether maxBefore, maxNow hold a value
	proc := 0
	records := 0
	for i, s := range sent {
		for proc < len(boundaries) && i >= boundaries[proc] {
			proc++
			maxBefore, before = max(maxBefore, maxNow), before || now
		}
		if s.From != killDevice {
			continue
		}
		ud, err := submitUD(s.PDU)
		if err != nil {
			t.Fatalf("device SMS %d: %v", i, err)
		}
		for len(ud) >= 13 {
			typ, epoch := ud[0], binary.BigEndian.Uint16(ud[3:5])
			seq := uint64(binary.BigEndian.Uint16(ud[5:7]))<<32 | uint64(binary.BigEndian.Uint32(ud[7:11]))
			n := int(binary.BigEndian.Uint16(ud[11:13]))
			body := ud[13:min(len(ud), 13+n)]
			if epoch == 0 && typ == 22 && len(body) > 0 && body[0] == 1 {
				// A ClientHello: a new session, new keys.
				clear(seen)
				maxBefore, maxNow, before, now = 0, 0, false, false
			}
			if epoch == 1 {
				records++
				if seen[seq] {
					t.Errorf("device SMS %d (process %d): sequence number %d used twice in one session", i, proc, seq)
				}
				if before && seq <= maxBefore {
					t.Errorf("device SMS %d (process %d): sequence number %d not above %d from an earlier process", i, proc, seq, maxBefore)
				}
				seen[seq] = true
				maxNow, now = max(maxNow, seq), true
			}
			ud = ud[min(len(ud), 13+n):]
		}
	}
	t.Logf("%d encrypted DTLS records from the device checked, highest sequence number %d", records, max(maxBefore, maxNow))
	if records == 0 {
		t.Error("no encrypted DTLS record from the device")
	}
}

// submitUD is the user data of an SMS-SUBMIT TPDU (TS 23.040 §9.2.2.2).
func submitUD(tpdu []byte) ([]byte, error) {
	s, err := atpdu.DecodeSubmit(tpdu)
	if err != nil {
		return nil, err
	}
	return s.UD, nil
}
