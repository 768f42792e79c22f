// Package uicc owns access to the UICC for LwM2M SMS security mode 2: ISO/IEC
// 7816-4 command and response APDUs with their status words, a card session
// over any APDU transport (AT+CSIM through the modem driver; GET RESPONSE
// after 61xx, re-issue after 6Cxx), logical channels, the BER-TLV objects of
// the card application toolkit it needs (ENVELOPE SMS-PP DOWNLOAD, proactive
// commands, TERMINAL RESPONSE), the data_rcv codec of LwM2M-TS 1.0
// §7.2.2.2.1, and the client of the LwM2M UICC application (SELECT, GET DATA,
// STORE DATA, proactive SEND SHORT MESSAGE) with its health as its own
// APDUs found it (App.Health: ok, not answering, error), for the status.
//
// It must not import the modem driver or any other lwm2m-clientd package:
// the daemon adapts the driver's CSIM method to Transport and its SMS send
// to SMSSender. The codecs (APDU, TLV, data_rcv) do no I/O. Neither key
// material nor the CoAP payloads pass through the logs: only lengths and
// status words are logged.
package uicc
