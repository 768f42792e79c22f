// Package smsdtls owns DTLS over SMS (LwM2M SMS security mode 1,
// LwM2M-TS 1.0 §7.2.2.1 as changed by the CR in ../shared/seed): a
// net.PacketConn per server number over a small SMS interface (Sender out,
// Deliver in), the pion/dtls v3 client configuration that keeps every
// datagram within one 140-octet SMS (PSK only, TLS_PSK_WITH_AES_128_CCM_8
// only, MTU 115, a ClientHello that fits one SMS even with a 32-byte cookie,
// RTO 10 s doubling to pion's 60 s clamp, 150 s handshake budget), and the
// per-server Session that opens the DTLS association when first needed,
// keeps it, persists it through a SessionStore so that a daemon restart
// costs no handshake SMS, and never lets an AES-CCM nonce be used twice.
//
// Use (internal/smsbind and internal/daemon):
//
//	c, _ := smsdtls.New(sender, store, smsdtls.WithLogger(log)) // once per process
//	s, _ := c.Session(smsdtls.Config{Number: "+33600000002", Mode: smsdtls.ModePSK,
//		PSKIdentity: res7, PSK: res8})                        // one per server; refuses non-PSK
//	s.Deliver(ud)             // user data of each SMS-DELIVER from that number
//	s.Open(ctx)               // at start-up for bindings with S (optional)
//	s.Write(ctx, coapMessage) // one record, ≤ MaxPlaintext (111) octets, one SMS
//	s.Read(ctx, buf)          // next CoAP message from the server
//	s.Close()                 // no close_notify: the stored session stays valid
//
// Nonce safety: a snapshot in the store always names a first sequence
// number that no record under its keys has used. Before a record would
// reach that number a new snapshot reserving the next SequenceReservation
// numbers is saved (the record is not sent if that fails); a restore saves a
// new reservation before using the keys, and a Client never restores the
// same snapshot twice. A store that is rolled back to an older file by
// something outside this process cannot be detected; the store must not do
// that.
//
// Inbound filtering: once established, only records the session's keys
// authenticate and that were not received before (RFC 6347 §4.1.2.6) reach
// pion; anything else is dropped without a reply and counted (LwM2M-TS 1.0
// §7.2.2 "MUST NOT respond"). An epoch-1 record that does not authenticate,
// or a HelloRequest, starts a new handshake, also when there is no session
// at all (how a server reaches a client without one), at most once per
// RehandshakeInterval counted from the start of the last handshake, the
// client's first one included: a fresh session is not torn down by records
// anyone can forge with the server's number (a flood of them costs no SMS),
// and a restored session can be replaced at once. An SMS arriving
// while the stored session is being restored is held and handled after the
// restore. Session.State says where the association stands.
//
// The caller decodes SMS, applies the sender filter (Security resource 9)
// and routes SMS-STATUS-REPORTs to delivery tracking: this package never
// sees a status report, so one can never count as a DTLS acknowledgement
// (LwM2M-TS 1.0 §7.2.2.1.5). The caller's Sender encodes the SMS-SUBMIT
// (8-bit data, no class, PID 0x00, no UDH, no concatenation) with the
// validity period it is given.
//
// Must not import: any other package of this module (it depends on
// pion/dtls v3 only), os, or a serial port. Snapshots and keys are secrets
// and are never logged.
package smsdtls
