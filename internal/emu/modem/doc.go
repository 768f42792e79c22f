// Package modem is the emulated GSM/LTE modem: an AT interpreter behind a
// real pseudo-terminal, so the driver opens its slave exactly as it opens
// /dev/ttyUSB2. It owns the pty (and a stable symlink to its slave, so a
// test can unplug and replug at the same path), the emulated SMS storage,
// the URCs (+CMT, +CMTI, +CDS), +CSIM forwarded to a pluggable SIM, and the
// switchable quirks and faults of real modems.
//
// It must not import internal/modem (the driver it tests) nor anything of
// the daemon path; of the project it imports only internal/atpdu.
package modem
