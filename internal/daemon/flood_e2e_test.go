package daemon_test

// The SMS flood of issue 10 against the daemon in DTLS mode
// (configs/sms-dtls.yaml, its rate limits as shipped): 1,000 SMS from
// unknown numbers and 1,000 badly protected SMS (DTLS records that do not
// authenticate) from the server's own number, with one genuine trigger in
// the middle. What the server and the operator must see: no SMS sent in
// reply to the flood, the genuine trigger answered 2.04 and followed by the
// Update, the heap no larger afterwards than a generous bound, the drops
// counted.

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsdtls"
)

const (
	// floodCount is the number of SMS of each kind, the number,
	// also under qemu-arm (LWM2M_TEST_EXEC), where the 2,000 SMS take
	// about 2.5 s.
	floodCount = 1000
	// floodWindow is how many flood SMS may be on their way to the
	// modem at once.
	floodWindow = 50
	// floodHeapGrowth bounds the live heap's growth over the whole
	// flood: 2 KiB per flood SMS would already exceed it, while caches
	// bounded by design (duplicate hashes, rate-limit buckets, the
	// emulator's command log) stay well inside.
	floodHeapGrowth = 4 << 20
)

// badRecord is a DTLS 1.2 application_data record of the session's epoch
// (RFC 6347 §4.1: type 23, version {254,253}, epoch 1, 48-bit sequence
// number, length) whose AES-CCM-8 ciphertext is random: it cannot
// authenticate.
func badRecord(rng *rand.Rand, seq uint64) []byte {
	body := make([]byte, 8+16+rng.IntN(60)) // explicit nonce, data, tag
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	b := []byte{23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(b[5:7], uint16(seq>>32))
	binary.BigEndian.PutUint32(b[7:11], uint32(seq))
	binary.BigEndian.PutUint16(b[11:13], uint16(len(body)))
	return append(b, body...)
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func TestSMSFlood(t *testing.T) {
	n := floodCount
	w := newWorld(t, false)
	// The server's DTLS side retries a request it got no answer to every
	// second, as an LwM2M server must over SMS (LwM2M-TS 1.0 §8.6.2 leaves
	// the retry to the application).
	smsSrv, err := server.StartSMS(server.SMSConfig{
		Network: w.net, Numbers: map[server.SMSMode]string{server.SMSDTLS: dtlsNumber},
		PSKIdentity: []byte("lwm2m-clientd-test"), PSK: dtlsKey,
		RetransmitInterval: time.Second, Log: testLog(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smsSrv.Close() })
	// Timers and flood limits as shipped.
	r := w.start("dtls")
	for !smsSrv.DTLSEstablished(deviceNumber) {
		select {
		case <-w.ctx.Done():
			t.Fatal("no DTLS session")
		case <-time.After(10 * time.Millisecond):
		}
	}
	trigger := func() error {
		resp, err := smsSrv.SMS(server.SMSDTLS, deviceNumber).Execute(w.ctx, "/1/0/8", "")
		if err == nil && resp.Code != codes.Changed {
			err = fmt.Errorf("response %v", resp.Code)
		}
		return err
	}
	// One trigger before the flood warms every lazily built part up.
	if err := trigger(); err != nil {
		t.Fatal(err)
	}
	w.next(server.Updated)
	w.drainHandled()
	heap0 := liveHeap()
	out0 := len(w.deviceSent())
	st0, _ := r.d.SMSStats()
	hs0 := dtlsStat(r).Handshakes

	rng := rand.New(rand.NewPCG(7, 10))
	inFlight := 0
	send := func(from string, ud []byte) {
		t.Helper()
		if inFlight == floodWindow {
			w.waitHandled()
			inFlight--
		}
		w.from(from, eightBit(ud))
		inFlight++
	}
	t0 := time.Now()
	var replied chan error
	for i := range 2 * n {
		if i == n {
			// The genuine trigger, in the middle of the flood.
			replied = make(chan error, 1)
			go func() { replied <- trigger() }()
		}
		if i%2 == 0 {
			// Unknown numbers, each a little different.
			send(fmt.Sprintf("+336%08d", rng.IntN(1e8)), triggerCoAP(uint16(i)))
		} else {
			send(dtlsNumber, badRecord(rng, 1<<20+uint64(i)))
		}
	}
	for ; inFlight > 0; inFlight-- {
		w.waitHandled()
	}
	flood := time.Since(t0)
	// Waiting for the trigger's answer: the server's retries are SMS
	// the daemon handles too.
	var triggerErr error
wait:
	for {
		select {
		case triggerErr = <-replied:
			break wait
		case <-w.handled:
		case <-w.ctx.Done():
			t.Fatal("the trigger in the flood was never answered")
		}
	}
	served := time.Since(t0)
	if triggerErr != nil {
		t.Fatalf("the trigger in the flood: %v", triggerErr)
	}
	w.next(server.Updated)
	// The handled events above also count the trigger's SMS, so the last
	// flood SMS may still be on its way: wait (bounded) until each one is
	// accounted for.
	for {
		st, _ := r.d.SMSStats()
		if st.Total.DroppedSender-st0.Total.DroppedSender >= uint64(n) &&
			st.DTLS.DroppedBadlySec+st.DTLS.DroppedRate-st0.DTLS.DroppedBadlySec-st0.DTLS.DroppedRate >= uint64(n) {
			break
		}
		select {
		case <-w.handled:
		case <-w.ctx.Done():
			t.Fatalf("flood SMS never handled: %+v", st.DTLS)
		}
	}
	heap1 := liveHeap()

	sent := w.deviceSent()[out0:]
	st, _ := r.d.SMSStats()
	growth := int64(heap1) - int64(heap0)
	t.Logf("%d + %d flood SMS handled in %v (%v per SMS), the trigger in the middle answered after %v; %d SMS sent; live heap %d → %d KiB (%+d KiB); drops: sender %d, badly protected %d, rate limit %d",
		n, n, flood.Round(time.Millisecond), (flood / time.Duration(2*n)).Round(time.Microsecond), served.Round(time.Millisecond), len(sent),
		heap0>>10, heap1>>10, growth>>10,
		st.Total.DroppedSender-st0.Total.DroppedSender, st.DTLS.DroppedBadlySec-st0.DTLS.DroppedBadlySec, st.DTLS.DroppedRate-st0.DTLS.DroppedRate)
	// Nothing answers the flood: every SMS the device sent went to the
	// server and carried the answer to one accepted copy of the trigger.
	// The records that do not authenticate start no handshake (the
	// session is younger than sms.dtls.rehandshake_interval, which counts
	// from the first handshake) and are not charged to the rate limit, so
	// the trigger is served with the flood, not on the server's retry.
	accepted := st.DTLS.Accepted - st0.DTLS.Accepted
	for _, s := range sent {
		if !atpdu.SameMSISDN(s.DA.String(), dtlsNumber, "") {
			t.Errorf("SMS sent to %s during the flood", s.DA)
		}
	}
	if len(sent) == 0 || uint64(len(sent)) != accepted {
		t.Errorf("%d SMS sent during the flood for %d accepted copies of the trigger", len(sent), accepted)
	}
	if hs := dtlsStat(r).Handshakes - hs0; hs != 0 {
		t.Errorf("the flood started %d handshakes", hs)
	}
	if d := st.DTLS.DroppedRate - st0.DTLS.DroppedRate; d != 0 {
		t.Errorf("%d SMS dropped by the rate limit: unauthenticated records were charged", d)
	}
	if d := st.Total.DroppedSender - st0.Total.DroppedSender; d != uint64(n) {
		t.Errorf("%d SMS dropped for their sender, want %d", d, n)
	}
	// Each badly protected SMS is dropped, for its protection or by the
	// rate limit before DTLS saw it; the rate limit may also have taken
	// some of the server's retries.
	if d := st.DTLS.DroppedBadlySec + st.DTLS.DroppedRate - st0.DTLS.DroppedBadlySec - st0.DTLS.DroppedRate; d < uint64(n) {
		t.Errorf("%d badly protected SMS dropped, want %d: %+v", d, n, st.DTLS)
	}
	if growth > floodHeapGrowth {
		t.Errorf("live heap grew by %d KiB over the flood, bound %d KiB", growth>>10, floodHeapGrowth>>10)
	}
	r.stop()
	w.next(server.Deregistered)
}

func dtlsStat(r *running) smsdtls.Stats {
	st, _ := r.d.DTLSStats(1)
	return st
}
