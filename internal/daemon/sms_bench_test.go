package daemon_test

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
)

// readCoAP is CON GET /3/0/0 (Read of the Device object's Manufacturer,
// LwM2M-TS 1.0 §5.4.1) with message ID mid and a 2-byte token (RFC 7252
// §3: 0x42 = ver 1, CON, TKL 2; 0x01 = GET; Uri-Path option 11).
func readCoAP(mid uint16) []byte {
	b := []byte{0x42, 0x01, 0, 0, 0xBE, 0x0C, 0xB1, '3', 0x01, '0', 0x01, '0'}
	binary.BigEndian.PutUint16(b[2:], mid)
	return b
}

// checkContent checks that resp is the piggy-backed 2.05 (ACK, code 0x45)
// answering readCoAP(mid) with the configured manufacturer.
func checkContent(b *testing.B, resp []byte, mid uint16) {
	req := readCoAP(mid)
	if len(resp) < 6 || resp[0] != 0x62 || resp[1] != 0x45 || !bytes.Equal(resp[2:6], req[2:6]) || !bytes.HasSuffix(resp, []byte("lwm2m-clientd")) {
		b.Fatalf("reply %x is not the 2.05 of %x", resp, req)
	}
}

// noRateLimit lifts the flood protection: a benchmark sends thousands of
// requests a second from the server's number.
func noRateLimit(c *config.Config) {
	c.SMS.RateLimit.PerSender = config.RateLimit{Count: 1 << 20, Interval: config.Duration(time.Second)}
	c.SMS.RateLimit.Global = config.RateLimit{Count: 1 << 20, Interval: config.Duration(time.Second)}
}

// BenchmarkSMSTurn is one inbound-SMS-to-outbound-SMS turn through the
// whole stack over the emulated world of sms_e2e_test.go (issue 10): a Read
// of /3/0/0 sent by the server's number into the emulated network → the
// emulated modem on its pty → the AT driver → smsbind (and smsdtls) → the
// LwM2M engine → the 2.05 by SMS seen by the network. ns/op is the latency
// of one turn; nothing else is in flight.
func BenchmarkSMSTurn(b *testing.B) {
	b.Run("nosec", func(b *testing.B) {
		w := newWorld(b, false)
		w.tweak = noRateLimit
		r := w.start("nosec")
		defer r.stop()
		var mid uint16
		b.ReportAllocs()
		for b.Loop() {
			mid++
			w.from(nosecNumber, eightBit(readCoAP(mid)))
			checkContent(b, w.recv(nosecNumber).UD, mid)
			w.drainHandled() // the daemon's SMSHandled hook blocks when 100 are pending
		}
	})
	b.Run("dtls", func(b *testing.B) {
		w := newWorld(b, false)
		w.tweak = noRateLimit
		srv := newDTLSServer(w)
		r := w.start("dtls")
		defer r.stop()
		select {
		case err := <-srv.hs:
			if err != nil {
				b.Fatalf("server handshake: %v", err)
			}
		case <-w.ctx.Done():
			b.Fatal("no handshake")
		}
		buf := make([]byte, 200)
		var mid uint16
		b.ReportAllocs()
		for b.Loop() {
			mid++
			if _, err := srv.conn.Write(readCoAP(mid)); err != nil {
				b.Fatal(err)
			}
			_ = srv.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			n, err := srv.conn.Read(buf)
			if err != nil {
				b.Fatalf("server read: %v", err)
			}
			checkContent(b, buf[:n], mid)
			w.drainHandled()
		}
	})
}
