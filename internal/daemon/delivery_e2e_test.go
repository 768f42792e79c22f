package daemon_test

import (
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
)

// TestSMSDeliveryTracking: with sms.status_reports on, the 2.04 the daemon
// sends carries TP-SRR, the network's SMS-STATUS-REPORT comes back through
// the modem (+CDS) and status counts the SMS as delivered.
func TestSMSDeliveryTracking(t *testing.T) {
	w := newWorld(t, false)
	w.tweak = func(c *config.Config) { c.SMS.StatusReports = true }
	r := w.start("nosec")
	defer r.stop()

	w.from(nosecNumber, eightBit(triggerCoAP(0x201)))
	checkChanged(t, w.recv(nosecNumber).UD, 0x201)
	sent := w.deviceSent()
	if len(sent) == 0 || !sent[len(sent)-1].SRR {
		t.Fatalf("the reply did not request a status report: %+v", sent)
	}
	// The report arrives on the driver's +CDS channel, which signals no
	// test hook: poll status, bounded by the world's deadline.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		st := r.d.Status(w.ctx)
		if st.Counters.SMSDelivered == 1 {
			if st.Counters.SMSDeliveryPending != 0 || st.Counters.SMSDeliveryFailed != 0 {
				t.Errorf("counters %+v", st.Counters)
			}
			break
		}
		select {
		case <-tick.C:
		case <-w.ctx.Done():
			t.Fatalf("no delivery counted: %+v", st.Counters)
		}
	}
	r.stop()
	w.next(server.Deregistered)
}
