// Package sim owns an emulated UICC for tests and the emulator: ICCID and
// IMSI, APDUs as the emulated modem forwards them from AT+CSIM, and the
// LwM2M UICC application of LwM2M-TS 1.0 §7.2.2.2 — it takes SMS-PP
// downloads of command packets addressed to its TAR, deciphers and verifies
// them with the keys of a YAML/JSON profile, keeps and persists its
// counters, silently drops whatever fails, queues the CoAP messages for GET
// DATA, and turns STORE DATA into secured SMS toward the server, either as
// the proactive command SEND SHORT MESSAGE (91xx) or, when the modem handles
// the toolkit, straight to a submit callback.
//
// It implements the emu/modem SIM interface. It may import atpdu,
// securedpacket, uicc and other emu packages, and is never imported by the
// daemon's own packages.
package sim
