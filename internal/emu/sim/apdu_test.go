package sim_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/sim"
)

// TestCardAPDUs drives the emulated card with raw APDUs: the status words a
// real UICC gives for the edge cases the host must handle.
func TestCardAPDUs(t *testing.T) {
	card, err := sim.New(profile(t), sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if card.ICCID() != "8900100000000000018" || card.IMSI() != "001010000000001" {
		t.Errorf("identity %s %s", card.ICCID(), card.IMSI())
	}
	for _, st := range []struct{ name, apdu, want string }{
		{"GET DATA before SELECT: default application", "80CA000500", "6A88"},
		{"STORE DATA before SELECT", "80E2900001AA", "6985"},
		{"SELECT unknown AID", "00A4040405A00000000100", "6A82"},
		{"SELECT MF", "00A40004023F00", "9000"},
		{"SELECT no FCP", "00A4040C06F04C574D324D", "9000"},
		{"SELECT with FCP", "00A4040406F04C574D324D00", "620C82027821840" + "6F04C574D324D9000"},
		{"GET DATA nothing pending", "80CA000500", "6A88"},
		{"GET DATA other tag", "80CA000600", "6A88"},
		{"STORE DATA wrong block", "80E2900101AA", "6A86"},
		{"STORE DATA not a record", "80E2900001AA", "6A80"},
		{"GET RESPONSE with nothing", "00C0000010", "6F00"},
		{"FETCH with nothing", "8012000010", "6985"},
		{"TERMINAL RESPONSE unasked", "801400000C810301130082028281830100", "6985"},
		{"unknown INS", "80FE000000", "6D00"},
		{"bad length", "80CA00", "6700"},
		{"closed channel", "01CA000500", "6881"},
		{"open channel 1", "0070000001", "019000"},
		{"open channel 2", "0070000001", "029000"},
		{"open channel 3", "0070000001", "039000"},
		{"no channel left", "0070000001", "6A81"},
		{"GET DATA on unselected channel", "81CA000500", "6985"},
		{"close channel 2", "00708002", "9000"},
		{"close it again", "00708002", "6A86"},
		{"TERMINAL PROFILE", "801000000100", "9000"},
	} {
		got := strings.ToUpper(hex.EncodeToString(card.Transmit(mustHex(t, st.apdu))))
		if got != strings.ToUpper(st.want) {
			t.Errorf("%s: %s → %s, want %s", st.name, st.apdu, got, st.want)
		}
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
