package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// mode2PDU is an SMS-DELIVER as LwM2M SMS security mode 2 sends it: SMSC
// prefix 00, UDHI, TP-OA +12 (TOA 0x90), PID 0x7F, DCS 0xF6 (8-bit, class
// 2), SCTS 2022-07-25 00:00:00 +0, UD = 02 70 00 (UDHL, Command Packet
// Identifier with no data) and the first 12 octets of the command packet.
// Layout from the pySim docs/smpp2sim.rst ENVELOPE example (spec digest
// sms-pdu.md §13), shortened to 15 octets of user data.
const mode2PDU = "00" + "40" + "029021" + "7F" + "F6" + "22705200000000" + "0F" + "027000" + "002815161912" + "12B0000127FA"

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestSMSDecodeJSONMode2 is the must-show: class 2, PID 0x7F and
// UDH 70 00 appear exactly.
func TestSMSDecodeJSONMode2(t *testing.T) {
	code, out, errs := runCLI(t, "sms", "decode", "--json", mode2PDU)
	if code != exitOK || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("want one JSON object on one line, got %q", out)
	}
	for _, part := range []string{
		`"type":"SMS-DELIVER"`, `"smsc":null`, `"originator":"+12"`, `"address_type":"international"`,
		`"pid":127`, `"dcs":246`, `"class":2`, `"coding":"8bit"`, `"udh":[{"iei":112,"data":""}]`,
		`"ud":"00281516191212b0000127fa"`, `"text":null`, `"scts":"2022-07-25T00:00:00+00:00"`,
		`"udhi":true`, `"mr":null`, `"vp":null`,
	} {
		if !strings.Contains(out, part) {
			t.Errorf("output lacks %s:\n%s", part, out)
		}
	}
}

// TestSMSDecodeJSONKeys: every key the issue lists is present per type.
func TestSMSDecodeJSONKeys(t *testing.T) {
	common := []string{"type", "smsc", "address_type", "mr", "pid", "dcs", "class", "coding", "udh", "ud", "text", "scts", "vp", "srr", "rp", "mms", "udhi"}
	for _, tc := range []struct {
		name  string
		args  []string
		extra []string
		check map[string]any
	}{
		{name: "deliver", args: []string{mode2PDU}, extra: []string{"originator"},
			check: map[string]any{"class": 2.0, "pid": 127.0}},
		{name: "submit with SMSC", args: []string{"07911326040000F0310D0B911326880736F40000A90FF7FBDD454E87CDE1B0DB357EB701"}, extra: []string{"destination"},
			check: map[string]any{"type": "SMS-SUBMIT", "smsc": "+31624000000", "destination": "+31628870634", "mr": 13.0, "srr": true,
				"text": "www.diafaan.com", "coding": "gsm7", "class": nil, "vp": map[string]any{"format": "relative", "seconds": 259200.0}}},
		{name: "status report without SMSC", args: []string{"--no-smsc", "06D60B911326880736F4111011719551401110117195714000"}, extra: []string{"recipient", "status", "discharge_time"},
			check: map[string]any{"type": "SMS-STATUS-REPORT", "smsc": nil, "recipient": "+31628870634", "status": 0.0, "mr": 214.0,
				"scts": "2011-01-11T17:59:15+01:00", "discharge_time": "2011-01-11T17:59:17+01:00"}},
		{name: "alphanumeric sender", args: []string{"0791448720003023240DD0E474D81C0EBB010000111011315214000BE474D81C0EBB5DE3771B"}, extra: []string{"originator"},
			check: map[string]any{"originator": "diafaan", "address_type": "alphanumeric", "text": "diafaan.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, append([]string{"sms", "decode", "--json"}, tc.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(out), &m); err != nil {
				t.Fatalf("not JSON: %v: %s", err, out)
			}
			for _, k := range append(common, tc.extra...) {
				if _, ok := m[k]; !ok {
					t.Errorf("key %q missing", k)
				}
			}
			for _, k := range []string{"originator", "destination", "recipient"} {
				if _, ok := m[k]; ok && !contains(tc.extra, k) {
					t.Errorf("key %q present for %s", k, tc.name)
				}
			}
			for k, want := range tc.check {
				if !reflect.DeepEqual(m[k], want) {
					t.Errorf("%s = %#v, want %#v", k, m[k], want)
				}
			}
		})
	}
}

func contains(s []string, v string) bool {
	sort.Strings(s)
	i := sort.SearchStrings(s, v)
	return i < len(s) && s[i] == v
}

func TestSMSDecodeText(t *testing.T) {
	code, out, _ := runCLI(t, "sms", "decode", mode2PDU)
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, line := range []string{
		"type:           SMS-DELIVER (29 octets)",
		"originator:     +12 (international)",
		"pid:            0x7F",
		"dcs:            0xF6 (8bit, class 2)",
		`udh:            iei 0x70 data ""`,
	} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

func TestSMSDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		part string
	}{
		{name: "not hex", args: []string{"sms", "decode", "zz"}, code: exitFail, part: "not hex"},
		{name: "truncated", args: []string{"sms", "decode", "0040029021"}, code: exitFail, part: "TP-PID at octet 4: truncated"},
		{name: "trailing", args: []string{"sms", "decode", "--no-smsc", "06D60B911326880736F41110117195514011101171957140000000"}, code: exitFail, part: "trailing bytes"},
		{name: "compressed", args: []string{"sms", "decode", "--no-smsc", "04048121430024621182415300400100"}, code: exitFail, part: "compressed"},
		{name: "no argument", args: []string{"sms", "decode"}, code: exitUsage, part: "accepts 1 arg"},
		{name: "no subcommand", args: []string{"sms"}, code: exitUsage, part: "a subcommand is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.part) || strings.Count(errs, "\n") != 1 || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and one line with %q", code, out, errs, tc.code, tc.part)
			}
		})
	}
}

func TestSMSEncode(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "submit dreamfabric vector", want: "0011000B916407281553F80000AA0AE8329BFD4697D9EC37",
			args: []string{"submit", "--to", "+46708251358", "--text", "hellohello", "--vp", "96h"}},
		{name: "submit with SMSC, SRR, MR, VP 3 days (python-gsmmodem vector)", want: "07911326040000F0310D0B911326880736F40000A90FF7FBDD454E87CDE1B0DB357EB701",
			args: []string{"submit", "--to", "+31628870634", "--text", "www.diafaan.com", "--vp", "72h", "--srr", "--mr", "13", "--smsc", "+31624000000"}},
		{name: "submit relative VP 5 min is octet 00", want: "11000B913316325476F80004000100",
			args: []string{"submit", "--to", "+33612345678", "--ud", "00", "--vp", "5m", "--no-smsc"}},
		{name: "submit enhanced VP", want: "09000B913316325476F8000402100000000000020102",
			args: []string{"submit", "--to", "+33612345678", "--ud", "0102", "--vp", "16s", "--vp-format", "enhanced", "--no-smsc"}},
		{name: "submit dcs, udh, pid, rp, rd", want: "C5000B913316325476F87FF504027000AA",
			args: []string{"submit", "--to", "+33612345678", "--dcs", "0xF5", "--pid", "0x7F", "--udh", "7000", "--ud", "AA", "--rp", "--rd", "--no-smsc"}},
		// ParseAddress("+12") is international/ISDN (TOA 0x91); the vector has NPI unknown (0x90).
		{name: "deliver mode 2", want: strings.Replace(mode2PDU, "029021", "029121", 1),
			args: []string{"deliver", "--from", "+12", "--pid", "0x7F", "--class", "2", "--coding", "8bit", "--udh", "7000",
				"--ud", "00281516191212B0000127FA", "--scts", "2022-07-25T00:00:00Z", "--mms=false"}},
		{name: "deliver ucs2 text with class 0", want: "040B913316325476F80018226052000000400400410042",
			args: []string{"deliver", "--from", "+33612345678", "--text", "AB", "--coding", "ucs2", "--class", "0", "--scts", "2022-06-25T00:00:00+01:00", "--no-smsc"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, append([]string{"sms", "encode"}, tc.args...)...)
			if code != exitOK || out != tc.want+"\n" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %s", code, out, errs, tc.want)
			}
		})
	}
}

func TestSMSEncodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		part string
	}{
		{name: "no destination", args: []string{"submit", "--ud", "00"}, code: exitUsage, part: "--to is required"},
		{name: "ud and text", args: []string{"submit", "--to", "1", "--ud", "00", "--text", "a"}, code: exitUsage, part: "exclusive"},
		{name: "dcs and class", args: []string{"submit", "--to", "1", "--dcs", "4", "--class", "1"}, code: exitUsage, part: "--dcs excludes"},
		{name: "bad class", args: []string{"submit", "--to", "1", "--class", "5"}, code: exitUsage, part: "--class"},
		{name: "bad vp", args: []string{"submit", "--to", "1", "--vp", "soon"}, code: exitUsage, part: "--vp"},
		{name: "vp too long", args: []string{"submit", "--to", "1", "--vp", "20000h"}, code: exitUsage, part: "63 weeks"},
		{name: "bad udh", args: []string{"submit", "--to", "1", "--udh", "0003AA"}, code: exitUsage, part: "cut short"},
		{name: "ud too long", args: []string{"submit", "--to", "1", "--ud", strings.Repeat("00", 141)}, code: exitFail, part: "at most 140"},
		{name: "text too long with header", args: []string{"submit", "--to", "1", "--udh", "00030A0201", "--text", strings.Repeat("a", 154)}, code: exitFail, part: "at most 160"},
		{name: "deliver bad scts offset", args: []string{"deliver", "--from", "1", "--scts", "2022-01-01T00:00:00+00:20"}, code: exitUsage, part: "quarter hour"},
		{name: "unknown subcommand arg", args: []string{"command"}, code: exitUsage, part: "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, append([]string{"sms", "encode"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errs, tc.part) || strings.Count(errs, "\n") != 1 || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and one line with %q", code, out, errs, tc.code, tc.part)
			}
		})
	}
}

// TestSMSEncodeDecodeRoundTrip: what encode prints, decode reads back.
func TestSMSEncodeDecodeRoundTrip(t *testing.T) {
	_, pdu, _ := runCLI(t, "sms", "encode", "submit", "--to", "MyBank", "--text", "Grüße 日本", "--class", "1", "--smsc", "+33609001390", "--srr")
	code, out, errs := runCLI(t, "sms", "decode", "--json", strings.TrimSpace(pdu))
	if code != exitOK {
		t.Fatalf("decode %q: exit %d %s", pdu, code, errs)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"destination": "MyBank", "address_type": "alphanumeric", "text": "Grüße 日本",
		"coding": "ucs2", "class": 1.0, "smsc": "+33609001390", "srr": true} {
		if !reflect.DeepEqual(m[k], want) {
			t.Errorf("%s = %#v, want %#v", k, m[k], want)
		}
	}
}
