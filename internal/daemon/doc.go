// Package daemon wires the daemon together and runs it: configuration →
// durable store → object tree (factory bootstrap or stored state) → LwM2M
// engine, with orderly shutdown (De-register with a bounded wait).
//
// With a modem it also drives the SMS binding (sms.go):
//
//	modem driver ─ HandleSMS ─→ smsbind.Binding ─ Conn per SMS server ─→ Engine.ServeConn
//	     │  StatusReports ─────→ (delivery tracking)          ↑ replies leave as SMS
//	     └─ +CSIM ─→ uicc.App (only when a server uses secure-packet)
//	store ─→ sessionStore ("dtls-<digits>") ─→ DTLS-over-SMS sessions
//
// The endpoint name's {imei} and {iccid} are filled from the modem before
// the engine starts; the server table comes from the Security instances
// (resources 6–9), so a server's SMS number and keys are the ones the object
// tree holds. An SMS Registration Update Trigger (Execute /1/x/8 over SMS in
// any mode) is answered 2.04 over SMS by the engine, which then sends the
// Update (or Register) over UDP.
//
// The Device (3) and Connectivity Monitoring (4) objects read the modem's
// identity, signal, registration and operator from a cache that one
// goroutine refreshes beside the driver (modeminfo.go); changed values are
// notified to observers.
//
// It owns the lifecycle of those parts and nothing protocol-specific. It may
// import config, store, objects, lwm2m and the modem/SMS packages; it must
// not import cmd or internal/emu.
package daemon
