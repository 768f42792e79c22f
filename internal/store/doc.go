// Package store owns the daemon's durable state: named values (object
// instances written by servers, DTLS session snapshots) and counters that
// must never go back (replay protection, sequence-number reservations).
//
// A Store maps a key to bytes, like tailscale's ipn.StateStore: ReadState
// returns ErrNotExist for a key never written; WriteState of a value equal
// to the stored one is skipped. Two implementations: File (one file per key
// in a 0700 directory) and Mem (tests).
//
// The file format (version 1), all integers big-endian:
//
//	magic "LWMS" | version (1) | payload length (4) | payload | CRC-32C (4)
//
// The checksum covers everything before it. A write never changes a file in
// place: the value goes to a temporary file in the same directory, which is
// fsynced, the previous good file is kept as KEY.prev, the temporary file is
// renamed over KEY.state, and the directory is fsynced. A power loss
// therefore leaves either the old or the new value. A file that fails its
// checksum (storage damage) is reported loudly (error log with the key and
// the reason) and the last good copy (KEY.prev) is used; when no good copy
// exists ReadState fails with ErrDamaged — state is never reset silently.
//
// Counters (Counter) are stored the same way but only ever move forward:
// the API has no Set, and a counter recovered from its previous copy after
// damage jumps ahead by a safety gap instead of reusing values.
//
// Keys are file names: lower-case letters, digits, "_", "." and "-", at
// most 64 characters, not starting with a dot ("objects",
// "dtls-33612345678"). Adapters for packages that key by other strings
// (smsdtls keys sessions by MSISDN) map them onto that alphabet.
//
// Package store imports no project package.
package store
