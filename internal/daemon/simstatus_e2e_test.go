package daemon_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/control"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/daemon"
)

// checkSIMStatus asserts what Status says about the LwM2M UICC
// application: state, the default AID, and (when errPart is not empty) a
// last error naming it. It returns the SIM block for further checks.
// Status must answer promptly: it reads the cached health and never waits
// for the card.
func checkSIMStatus(t *testing.T, ctx context.Context, d *daemon.Daemon, state, errPart string) *control.SIMStatus {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st := d.Status(sctx)
	s := st.SIM
	if s == nil {
		t.Errorf("status has no sim block, want state %q", state)
		return &control.SIMStatus{}
	}
	j, _ := json.Marshal(s)
	if s.State != state || s.AID != "f04c574d324d" || s.Since.IsZero() {
		t.Errorf("sim status %s, want state %q, aid f04c574d324d, a since", j, state)
	}
	if errPart != "" && !strings.Contains(s.LastError, errPart) {
		t.Errorf("sim last_error %q, want it to name %q", s.LastError, errPart)
	}
	if state == control.SIMOK && s.LastOK.IsZero() {
		t.Errorf("sim ok without a last_ok: %s", j)
	}
	if state != control.SIMOK && !strings.Contains(st.Summary(), "SIM "+state) {
		t.Errorf("summary %q does not say the SIM is %s", st.Summary(), state)
	}
	return s
}
