// Package securedpacket owns the secured packets of ETSI TS 102 225 as mapped
// onto SMS point-to-point by 3GPP TS 31.115: building and parsing Command
// Packets and Response Packets (PoR), their ciphering (AES-CBC, 3DES outer
// CBC), cryptographic checksums (AES-CMAC, 3DES CBC-MAC), counters, the SMS
// user-data framing (CPI 0x70 / RPI 0x71, concatenation) and the LwM2M
// policy of LwM2M-TS 1.0 §7.2.2.2.3 (Policy), kept apart from the codec.
//
// Everything here is a pure function over []byte: the package must not
// import os, syscall, net, log/slog, a serial driver or any other
// lwm2m-clientd package. Byte layouts and known-answer vectors are in
// ../shared/spec/secured-packet.md.
//
// Receiving order (secured-packet.md §5): decipher, verify the checksum,
// check the counter, strip the padding — each failure a typed error, and
// nothing of the secured data is returned unless every step passed.
package securedpacket
