package num

import (
	"errors"
	"testing"
)

func TestScaled(t *testing.T) {
	for _, tc := range []struct {
		in    string
		exp   int
		round bool
		want  int64
		err   error
	}{
		{"1547188415.857497", 9, false, 1547188415857497000, nil},
		{"0.000123", 9, true, 123000, nil},
		{"0.0000000015", 9, true, 2, nil},
		{"0.0000000015", 9, false, 1, nil},
		{"-0.0000000015", 9, true, -2, nil},
		{"-1.5", 0, true, -2, nil},
		{"  42 ", 0, false, 42, nil},
		{"+7", 0, false, 7, nil},
		{"1e3", 0, false, 1000, nil},
		{"1.5e-3", 9, false, 1500000, nil},
		{".5", 1, false, 5, nil},
		{"5.", 0, false, 5, nil},
		{"9223372036854775807", 0, false, 9223372036854775807, nil},
		{"-9223372036854775808", 0, false, -9223372036854775808, nil},
		{"9223372036854775808", 0, false, 0, ErrRange},
		{"99999999999", 9, false, 0, ErrRange},
		{"", 0, false, 0, ErrSyntax},
		{"-", 0, false, 0, ErrSyntax},
		{".", 0, false, 0, ErrSyntax},
		{"1.2.3", 0, false, 0, ErrSyntax},
		{"NaN", 0, false, 0, ErrSyntax},
		{"Inf", 0, false, 0, ErrSyntax},
		{"1e999", 0, false, 0, ErrSyntax},
		{"0x10", 0, false, 0, ErrSyntax},
		{"12a", 0, false, 0, ErrSyntax},
	} {
		t.Run(tc.in, func(t *testing.T) {
			d, err := Parse(tc.in)
			var got int64
			if err == nil {
				got, err = d.Scaled(tc.exp, tc.round)
			}
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("got %d, %v; want %d, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestFromFloatKeepsDigits(t *testing.T) {
	d, err := FromFloat(1547188415.857497)
	if err != nil {
		t.Fatal(err)
	}
	sec, nsec, err := d.Seconds()
	if err != nil || sec != 1547188415 || nsec != 857497000 {
		t.Fatalf("got %d.%09d, %v", sec, nsec, err)
	}
}

func TestShift(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		sec  int64
		nsec int64
	}{
		{"1547188415857", 3, 1547188415, 857000000},
		{"1547188415857.5", 3, 1547188415, 857500000},
		{"5", 3, 0, 5000000},
		{"-1500", 3, -1, -500000000},
	} {
		d, err := Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		sec, nsec, err := d.Shift(tc.n).Seconds()
		if err != nil || sec != tc.sec || nsec != tc.nsec {
			t.Errorf("%s shifted %d: got %d, %d, %v; want %d, %d", tc.in, tc.n, sec, nsec, err, tc.sec, tc.nsec)
		}
	}
}
