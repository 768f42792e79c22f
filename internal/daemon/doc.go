// Package daemon wires the daemon together and runs it: configuration →
// durable store → object tree (factory bootstrap or stored state) → LwM2M
// engine, with orderly shutdown (De-register with a bounded wait). For now it
// runs UDP-only gateways (modem: none); the modem, the SMS binding, systemd
// notification and the control socket join here (issue 9).
//
// It owns the lifecycle of those parts and nothing protocol-specific. It may
// import config, store, objects, lwm2m and the modem/SMS packages; it must
// not import cmd or internal/emu.
package daemon
