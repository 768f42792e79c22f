package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// Vectors of secured-packet.md §11 (pySim test_ota.py, real-card PoRs).
const (
	v1KIcKey = "200102030405060708090a0b0c0d0e0f"
	v1KIDKey = "201102030405060708090a0b0c0d0e0f"
	v1Packet = "00281506192222B00011E87CCEEBB2D93083011CE294F93FC4D8DE80DA1ABAE8C37CA3E72EC4432E5058"
	v1PoR    = "027100002412b00011ebc6b497e2cad7aedf36ace0e3a29b38853f0fe9ccde81913be5702b73abce1f"
	v3PoR    = "027100001612b000110000000000000055f47118381175fb01612f"
	v2Key    = "12110C78E678C25408233076AA033615"
)

func runSP(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestSecuredPacketEncode(t *testing.T) {
	code, out, _ := runSP(t, "securedpacket", "encode", "--spi", "0619", "--kic", "22", "--kid", "22", "--tar", "B00011",
		"--cntr", "0", "--kic-key", v1KIcKey, "--kid-key", v1KIDKey, "--data", "00a40004023f00", "--deliver-from", "+33600000003")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"packet: " + v1Packet + "\n",
		"user_data: 027000" + v1Packet + "\n",
		// SMS-DELIVER: SMSC 00, FO 40 (UDHI), OA +33600000003, PID 7F, DCS F6, ..., UDL 2D.
		"sms_deliver: 00400B913306000000F37FF6",
		"2D027000" + v1Packet + " (length 64)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// A long message is split over several SMS.
	code, out, _ = runSP(t, "securedpacket", "encode", "--spi", "1600", "--kic", "12", "--kid", "12", "--tar", "B20203",
		"--cntr", "7", "--kic-key", v1KIcKey, "--kid-key", v1KIDKey, "--data", strings.Repeat("AB", 300))
	if code != exitOK || strings.Count(out, "user_data: ") != 3 {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
}

func TestSecuredPacketDecode(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want map[string]any
	}{
		{name: "V1 command, user data",
			args: []string{"--kic-key", v1KIcKey, "--kid-key", v1KIDKey, "027000" + v1Packet},
			want: map[string]any{"spi": "0619", "kic": "22", "kid": "22", "tar": "b00011", "cntr": 0.0, "pcntr": 11.0,
				"cc": "ecbab1f8f55502c5", "cc_valid": true, "data": "00a40004023f00"}},
		{name: "V1 command, bare packet",
			args: []string{"--kic-key", v1KIcKey, "--kid-key", v1KIDKey, v1Packet},
			want: map[string]any{"cc_valid": true, "data": "00a40004023f00"}},
		{name: "V1 PoR",
			args: []string{"--response", "--spi", "0619", "--kic", "22", "--kid", "22", "--kic-key", v1KIcKey, "--kid-key", v1KIDKey, v1PoR},
			want: map[string]any{"tar": "b00011", "pcntr": 14.0, "cc": "34d237db461c150b", "cc_valid": true, "data": "016132", "status": "00"}},
		{name: "V3 3DES PoR",
			args: []string{"--response", "--spi", "0209", "--kic", "35", "--kid", "35", "--kid-key", v2Key, v3PoR},
			want: map[string]any{"cc": "55f47118381175fb", "cc_valid": true, "data": "01612f", "status": "00"}},
		{name: "V2 3DES command, wrong key",
			args: []string{"--kid-key", strings.Repeat("11", 16), "001D150219" + "3535b00000" + "000000000000" + "072ea17bdb72060e" + "00a40000023f00"},
			code: exitFail,
			want: map[string]any{"cc": "072ea17bdb72060e", "cc_valid": false, "data": "00a40000023f00"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"securedpacket", "decode", "--json"}, tc.args...)
			code, out, errs := runSP(t, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.code, errs)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("JSON %q: %v", out, err)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
	code, out, _ := runSP(t, "securedpacket", "decode", "--kic-key", v1KIcKey, "--kid-key", v1KIDKey, v1Packet)
	if code != exitOK || !strings.Contains(out, "cc:     ecbab1f8f55502c5 (valid)") || !strings.Contains(out, "kid:    22 (key version 2, AES-CMAC)") {
		t.Errorf("text output (exit %d):\n%s", code, out)
	}
}

func TestSecuredPacketUsage(t *testing.T) {
	for _, args := range [][]string{
		{"securedpacket"},
		{"securedpacket", "decode", "zz"},
		{"securedpacket", "decode", "--spi", "1600", "00"},
		{"securedpacket", "decode"},
		{"securedpacket", "encode", "--spi", "1600"},
		{"securedpacket", "encode", "--spi", "16", "--kic", "12", "--kid", "12", "--tar", "B20203", "--cntr", "1", "--data", "00"},
		{"securedpacket", "encode", "--spi", "1600", "--kic", "12", "--kid", "12", "--tar", "B20203", "--cntr", "1", "--data", "00",
			"--deliver-from", "not a number"},
	} {
		if code, _, errs := runSP(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errs)
		}
	}
	// A truncated packet is an operational failure, not a usage error.
	if code, _, _ := runSP(t, "securedpacket", "decode", "--kic-key", v1KIcKey, "--kid-key", v1KIDKey, v1Packet[:40]); code != exitFail {
		t.Errorf("truncated packet: exit %d", code)
	}
}
