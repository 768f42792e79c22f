package modem

import "github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"

// simDownload reports how a modem routes an SMS-DELIVER: class 2 with
// PID 0x7F goes to the SIM by ENVELOPE (TS 31.111 §7.1.1.1, sms-pdu.md
// §13); any class 2 is stored rather than pushed as +CMT (TS 27.005
// §3.4.1 <mt>=2). An undecodable TPDU is neither.
func simDownload(tpdu []byte) (toSIM, class2 bool) {
	d, err := atpdu.DecodeDeliver(tpdu)
	if err != nil {
		return false, false
	}
	class2 = d.DCS.Class() == atpdu.Class2
	return class2 && d.PID == atpdu.PIDUSIMDataDownload, class2
}
