package smsdtls

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestHandshakeOverSMS: the handshake completes over the SMS pipe; it costs at
// most 6 SMS with HelloVerifyRequest and 4 without (issue 8 "Must show"), and
// no datagram exceeds one SMS.
func TestHandshakeOverSMS(t *testing.T) {
	for _, tc := range []struct {
		name    string
		hvr     bool
		maxSMS  int
		flights int
	}{
		{name: "hello_verify_request", hvr: true, maxSMS: 6, flights: 6},
		{name: "no_hello_verify_request", hvr: false, maxSMS: 4, flights: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
				defer cancel()
				w := newWorld(t, tc.hvr, testConfig())
				defer w.close()
				if err := w.handshake(ctx); err != nil {
					t.Fatal(err)
				}
				msgs := w.net.messages()
				for _, m := range msgs {
					t.Log(describe(m))
					if len(m.ud) > MaxDatagram {
						t.Errorf("datagram of %d octets > %d", len(m.ud), MaxDatagram)
					}
				}
				if len(msgs) > tc.maxSMS {
					t.Errorf("handshake cost %d SMS, want ≤ %d", len(msgs), tc.maxSMS)
				}
				if got := w.sess.Stats().Handshakes; got != 1 {
					t.Errorf("Handshakes = %d, want 1", got)
				}

				// Application data both ways, one SMS each.
				before := len(msgs)
				payload := make([]byte, 64)
				if err := w.sess.Write(ctx, payload); err != nil {
					t.Fatalf("client write: %v", err)
				}
				got, err := w.srv.read(t, time.Minute)
				if err != nil || len(got) != 64 {
					t.Fatalf("server read: %d octets, %v", len(got), err)
				}
				if _, err := w.srv.conn.Write([]byte("pong")); err != nil {
					t.Fatalf("server write: %v", err)
				}
				b := make([]byte, MaxPlaintext)
				k, err := w.sess.Read(ctx, b)
				if err != nil || string(b[:k]) != "pong" {
					t.Fatalf("client read %q, %v", b[:k], err)
				}
				msgs = w.net.messages()
				if n := len(msgs) - before; n != 2 {
					t.Errorf("one record each way cost %d SMS, want 2", n)
				}
				if last := msgs[before]; len(last.ud) != 64+RecordOverhead || last.vp != DefaultRecordValidity {
					t.Errorf("64-octet record: %d octets vp %v, want %d vp %v", len(last.ud), last.vp, 64+RecordOverhead, DefaultRecordValidity)
				}
			})
		})
	}
}
