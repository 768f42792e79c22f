// Package atpdu owns the SMS transfer-layer PDUs of TS 23.040 as they travel
// on a modem's AT port in PDU mode (TS 27.005): SMS-DELIVER, SMS-SUBMIT and
// SMS-STATUS-REPORT with every field typed (addresses, TP-PID, TP-DCS,
// TP-SCTS, TP-VP, the user data header), the PDU-mode SMSC prefix, the GSM
// 7-bit default alphabet and UCS2 of TS 23.038, and MSISDN normalisation for
// the sender filter.
//
// Everything here is a pure function over []byte: decoders copy what they
// keep (never alias the input), never panic, reject trailing bytes, and
// report a *DecodeError naming the TS 23.040 field and the octet offset.
// Encoders enforce the 140-octet / 160-septet user data limit.
//
// It must not import os, syscall, net, log/slog, a serial port package or
// any other project package: it is a codec (arch_test.go enforces this).
package atpdu
