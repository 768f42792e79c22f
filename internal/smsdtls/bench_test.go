package smsdtls

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// BenchmarkHandshakeAndRecord: one full PSK handshake with HelloVerifyRequest
// over the in-memory SMS pipe, then one 64-octet application record each way
// (issue 10). Real time, no latency, no loss.
func BenchmarkHandshakeAndRecord(b *testing.B) {
	payload := bytes.Repeat([]byte{0x5a}, 64)
	buf := make([]byte, MaxPlaintext)
	b.ReportAllocs()
	sms := 0
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		w := newWorld(b, true, testConfig())
		if err := w.handshake(ctx); err != nil {
			b.Fatal(err)
		}
		if err := w.sess.Write(ctx, payload); err != nil {
			b.Fatal(err)
		}
		if got, err := w.srv.read(b, 10*time.Second); err != nil || len(got) != 64 {
			b.Fatalf("server read %d, %v", len(got), err)
		}
		if _, err := w.srv.conn.Write(payload); err != nil {
			b.Fatal(err)
		}
		if n, err := w.sess.Read(ctx, buf); err != nil || n != 64 {
			b.Fatalf("client read %d, %v", n, err)
		}
		sms += len(w.net.messages())
		w.close()
		cancel()
	}
	b.ReportMetric(float64(sms)/float64(b.N), "sms/op")
}
