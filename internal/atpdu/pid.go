package atpdu

// PID is the TP-Protocol-Identifier octet, TS 23.040 §9.2.3.9. Any value is
// carried unchanged; the constants name the ones this project acts on.
type PID byte

// Protocol identifiers, TS 23.040 §9.2.3.9.
const (
	// PIDNormal: SME-to-SME protocol, no interworking (b7b6 = 00, b5 = 0).
	PIDNormal PID = 0x00
	// PIDType0: Short Message Type 0, acknowledged then discarded.
	PIDType0 PID = 0x40
	// PIDANSI136RData: ANSI-136 R-DATA (also downloaded to a UICC with class 2).
	PIDANSI136RData PID = 0x7C
	// PIDMEDataDownload: ME data download.
	PIDMEDataDownload PID = 0x7D
	// PIDUSIMDataDownload: (U)SIM data download; with DCS class 2 the ME
	// gives the SMS-DELIVER to the UICC (TS 31.111 §7.1.1).
	PIDUSIMDataDownload PID = 0x7F
)
