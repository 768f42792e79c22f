package atpdu_test

import (
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

func TestSameMSISDN(t *testing.T) {
	for _, tc := range []struct {
		a, b, cc string
		want     bool
	}{
		// The forms the issue names compare equal.
		{a: "+33612345678", b: "0033612345678", want: true},
		{a: "+33612345678", b: "33612345678", want: true},
		{a: "0033612345678", b: "33612345678", want: true},
		{a: "+33 6 12 34 56 78", b: "+33612345678", want: true},
		// National numbers only with a country code.
		{a: "0612345678", b: "+33612345678", want: false},
		{a: "0612345678", b: "+33612345678", cc: "33", want: true},
		{a: "0612345678", b: "+33612345678", cc: "+33", want: true},
		{a: "0612345678", b: "+44612345678", cc: "33", want: false},
		{a: "0612345678", b: "0612345678", want: true},
		// Short codes and names never equal an international number.
		{a: "36179", b: "+36179", want: false},
		{a: "36179", b: "36179", want: true},
		{a: "MyBank", b: "+33612345678", want: false},
		{a: "MyBank", b: "MyBank", want: true},
		// Different numbers, empty or garbage.
		{a: "+33612345678", b: "+33612345679", want: false},
		{a: "", b: "", want: false},
		{a: "+", b: "+", want: false},
	} {
		if got := atpdu.SameMSISDN(tc.a, tc.b, tc.cc); got != tc.want {
			t.Errorf("SameMSISDN(%q, %q, %q) = %v, want %v", tc.a, tc.b, tc.cc, got, tc.want)
		}
		if got := atpdu.SameMSISDN(tc.b, tc.a, tc.cc); got != tc.want {
			t.Errorf("SameMSISDN(%q, %q, %q) = %v, want %v (swapped)", tc.b, tc.a, tc.cc, got, tc.want)
		}
	}
}

func TestAddressSameMSISDN(t *testing.T) {
	intl := atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIISDN, Number: "33612345678"}
	for _, tc := range []struct {
		name   string
		oa     atpdu.Address
		msisdn string
		cc     string
		want   bool
	}{
		{name: "TON international vs +", oa: intl, msisdn: "+33612345678", want: true},
		{name: "TON international vs 00", oa: intl, msisdn: "0033612345678", want: true},
		{name: "TON international vs bare", oa: intl, msisdn: "33612345678", want: true},
		{name: "TON national with trunk 0, cc", oa: atpdu.Address{TON: atpdu.TONNational, Number: "0612345678"}, msisdn: "+33612345678", cc: "33", want: true},
		{name: "TON national without trunk 0, cc", oa: atpdu.Address{TON: atpdu.TONNational, Number: "612345678"}, msisdn: "+33612345678", cc: "33", want: true},
		{name: "TON national without cc", oa: atpdu.Address{TON: atpdu.TONNational, Number: "612345678"}, msisdn: "+33612345678", want: false},
		{name: "TON unknown with +form digits", oa: atpdu.Address{TON: atpdu.TONUnknown, Number: "0033612345678"}, msisdn: "+33612345678", want: true},
		{name: "alphanumeric never international", oa: atpdu.Address{TON: atpdu.TONAlphanumeric, Number: "33612345678"}, msisdn: "+33612345678", want: false},
		{name: "alphanumeric equals its name", oa: atpdu.Address{TON: atpdu.TONAlphanumeric, Number: "MyBank"}, msisdn: "MyBank", want: true},
		{name: "network-specific short code vs international", oa: atpdu.Address{TON: atpdu.TONNetworkSpecific, Number: "36179"}, msisdn: "+36179", want: false},
		{name: "network-specific short code vs itself", oa: atpdu.Address{TON: atpdu.TONNetworkSpecific, Number: "36179"}, msisdn: "36179", want: true},
	} {
		if got := tc.oa.SameMSISDN(tc.msisdn, tc.cc); got != tc.want {
			t.Errorf("%s: %#v.SameMSISDN(%q, %q) = %v, want %v", tc.name, tc.oa, tc.msisdn, tc.cc, got, tc.want)
		}
	}
}
