// Package modem is the AT driver of a GSM/LTE modem: it owns the serial
// port (open, reconnect with capped backoff), the AT command engine
// (serialised commands with per-command deadlines, resynchronisation after a
// timeout, one reader goroutine classifying lines, one goroutine dispatching
// unsolicited result codes in arrival order), initialisation, SMS reception
// (+CMT/+CNMA, +CMTI/+CMGR/+CMGD, start-up and storage-full sweeps), status
// reports (+CDS/+CDSI), SMS submission (+CMGS), +CSIM pass-through and modem
// information (identity, SIM, signal, registration).
//
// AT framing follows TS 27.007 §4/§5 and TS 27.005 §3–4 (sms-pdu.md §11–12).
// The engine is written here rather than wrapping github.com/warthog618/modem/at
// v0.4.0, whose design cannot be made sound from outside (see engine.go).
//
// It must not import anything from internal/emu (the daemon path never
// reaches the emulator) nor any protocol layer above it; of the project it
// imports only internal/atpdu.
package modem
