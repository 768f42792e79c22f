// Package smsdtls owns DTLS over SMS (LwM2M SMS security mode 1,
// LwM2M-TS 1.0 §7.2.2.1 as changed by the CR in ../shared/seed): a
// net.PacketConn per server number over a small SMS interface (Sender in,
// Deliver out), the pion/dtls v3 client configuration that keeps every
// datagram within one 140-octet SMS (PSK only, TLS_PSK_WITH_AES_128_CCM_8
// only, MTU 115, a ClientHello that fits one SMS even with a 32-byte cookie,
// RTO 10 s doubling), and the per-server Session that opens the DTLS
// association when first needed, keeps it, persists it through a
// SessionStore so that a daemon restart costs no handshake SMS, and never
// lets an AES-CCM nonce be used twice.
//
// The caller (internal/smsbind) decodes SMS, applies the sender filter and
// routes SMS-STATUS-REPORTs to delivery tracking: this package never sees a
// status report, so a report can never count as a DTLS acknowledgement
// (LwM2M-TS 1.0 §7.2.2.1.5). It encodes the SMS-SUBMIT (8-bit data, no
// class, PID 0x00, no UDH, no concatenation) with the validity period it is
// given.
//
// Must not import: any other package of this module (it depends on
// pion/dtls v3 only), os, or a serial port. Snapshots and keys are secrets
// and are never logged.
package smsdtls
