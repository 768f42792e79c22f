// Package smsbind owns the LwM2M SMS binding between the modem driver and
// the LwM2M engine (LwM2M-TS 1.0 §7.2 as changed by the CR in
// ../shared/seed, spec digest lwm2m.md §2.2–2.5 and §9): every inbound
// SMS TPDU goes through the sender filter (Security resource 9), then the
// path of that server's SMS security mode (resource 6), and comes out as
// one CoAP message on that server's Conn; what the engine writes to a Conn
// leaves as SMS the same way back.
//
//	raw TPDU ─ HandleSMS ─┬─ SMS-STATUS-REPORT → delivery tracking only
//	                      └─ SMS-DELIVER → TP-OA matches resource 9? (else dropped silently)
//	                           → rate limit (per sender, global)
//	                           ├─ 3 NoSec:  8-bit UD = CoAP message
//	                           ├─ 1 DTLS:   UD = one DTLS record → smsdtls.Session → CoAP
//	                           └─ 2 secure packet: class 2 + PID 0x7F only → ENVELOPE
//	                                SMS-PP DOWNLOAD → GET DATA (also polled) → data_rcv
//	                                address matches resource 9 again → CoAP
//	                           → well-formed CoAP? → Conn.Read
//
// Outbound in modes 1 and 3 is one SMS-SUBMIT per datagram: 8-bit data
// without message class, PID 0x00, no UDH, never concatenated, at most 140
// octets of user data (checked on the encoded SUBMIT, the last step before
// the modem); in mode 2 the CoAP message goes to the UICC with STORE DATA,
// addressed to the TP-OA of the request it answers.
//
// Delivery tracking (Config.RequestStatusReports, off by default): the
// SMS of modes 1 and 3 carry TP-SRR; each is remembered by the TP-MR the
// modem gave it (MRSubmitter) and its recipient until the
// SMS-STATUS-REPORT that closes it (TS 23.040 §9.2.2.3, TP-ST classes
// §9.2.3.15) arrives, or it expires; Stats.Delivery counts delivered,
// failed, temporary and expired, and a failed delivery is logged at warn
// level with the server, the TP-MR and the status. The table is bounded
// (256 SMS: one TP-MR cycle).
//
// Nothing that fails a check is ever answered (LwM2M-TS 1.0 §7.2 "silently
// ignored", §7.2.2 "MUST NOT respond with an error message"): every drop is
// counted by class in Stats and logged at debug level.
//
// It may import internal/atpdu, internal/smsdtls and internal/uicc only.
// It must not import internal/modem, internal/objects or internal/lwm2m:
// the daemon adapts the modem driver to Submitter (MRSubmitter for delivery
// tracking: SubmitMRFunc(modem.SendSMS)) and the uicc.App to UICC,
// and fills the server table from the Security objects.
package smsbind
