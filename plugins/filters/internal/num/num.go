// Package num reads numbers the way the filters need them: decimal text
// kept exact (an epoch of 1547188415.857497 seconds must keep its
// microseconds, which float64 arithmetic loses), and event values
// (int64, float64, numeric text) as decimals.
package num

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// Decimal is a number as decimal digits: sign, the digits before the
// point and the digits after it.
type Decimal struct {
	Neg  bool
	Int  string // no leading zeros; "" for zero
	Frac string // no trailing zeros
}

// Errors returned by Parse and the conversions.
var (
	// ErrSyntax: the text is not a number.
	ErrSyntax = errors.New("not a number")
	// ErrRange: the number does not fit the result.
	ErrRange = errors.New("out of range")
)

// Parse reads decimal text: an optional sign, digits, an optional point
// and more digits, or a number in exponent form (1.5e9). Surrounding
// spaces are allowed. NaN and infinities are not numbers here.
func Parse(s string) (Decimal, error) {
	s = strings.TrimSpace(s)
	var d Decimal
	if s == "" {
		return d, ErrSyntax
	}
	body := s
	switch body[0] {
	case '-':
		d.Neg = true
		body = body[1:]
	case '+':
		body = body[1:]
	}
	intPart, frac, hasPoint := strings.Cut(body, ".")
	if !digits(intPart) || hasPoint && !digits(frac) || intPart == "" && frac == "" {
		if strings.ContainsAny(body, "eE") {
			return fromExponent(s)
		}
		return d, ErrSyntax
	}
	d.Int = strings.TrimLeft(intPart, "0")
	d.Frac = strings.TrimRight(frac, "0")
	if d.Int == "" && d.Frac == "" {
		d.Neg = false
	}
	return d, nil
}

func fromExponent(s string) (Decimal, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return Decimal{}, ErrSyntax
	}
	return FromFloat(f)
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FromFloat returns the shortest decimal that reads back as f, so
// 1547188415.857497 gives exactly those digits.
func FromFloat(f float64) (Decimal, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return Decimal{}, ErrSyntax
	}
	var buf [32]byte
	return Parse(string(strconv.AppendFloat(buf[:0], f, 'f', -1, 64)))
}

// FromInt returns i as a decimal.
func FromInt(i int64) Decimal {
	var d Decimal
	if i < 0 {
		d.Neg = true
	}
	if i == 0 {
		return d
	}
	s := strconv.FormatInt(i, 10)
	d.Int = strings.TrimPrefix(s, "-")
	return d
}

// FromValue reads an event value (int64, float64 or text) as a decimal.
// ok is false for any other kind of value.
func FromValue(v any) (d Decimal, ok bool, err error) {
	switch t := v.(type) {
	case int64:
		return FromInt(t), true, nil
	case float64:
		d, err := FromFloat(t)
		return d, true, err
	case string:
		d, err := Parse(t)
		return d, true, err
	}
	return Decimal{}, false, nil
}

// IsWhole reports whether d has no fraction.
func (d Decimal) IsWhole() bool { return d.Frac == "" }

// Shift divides d by 10^n, moving the point n digits to the left.
func (d Decimal) Shift(n int) Decimal {
	if n <= 0 {
		return d
	}
	in := d.Int
	if len(in) < n {
		in = strings.Repeat("0", n-len(in)) + in
	}
	out := Decimal{Neg: d.Neg, Int: strings.TrimLeft(in[:len(in)-n], "0"),
		Frac: strings.TrimRight(in[len(in)-n:]+d.Frac, "0")}
	return out
}

// Scaled returns d × 10^exp as an int64, rounding the digits that remain
// after the point to the nearest (halves away from zero) when round is
// set, truncating them otherwise.
func (d Decimal) Scaled(exp int, round bool) (int64, error) {
	var u uint64
	for i := 0; i < len(d.Int)+exp; i++ {
		c := byte('0')
		switch {
		case i < len(d.Int):
			c = d.Int[i]
		case i-len(d.Int) < len(d.Frac):
			c = d.Frac[i-len(d.Int)]
		}
		digit := uint64(c - '0')
		if u > (math.MaxUint64-digit)/10 {
			return 0, ErrRange
		}
		u = u*10 + digit
	}
	if round && len(d.Frac) > exp && d.Frac[exp] >= '5' {
		if u == math.MaxUint64 {
			return 0, ErrRange
		}
		u++
	}
	if d.Neg {
		if u > 1<<63 {
			return 0, ErrRange
		}
		return -int64(u), nil // -(1<<63) wraps to itself, which is right
	}
	if u > math.MaxInt64 {
		return 0, ErrRange
	}
	return int64(u), nil
}

// Seconds splits d, a number of seconds, into whole seconds and
// nanoseconds (truncated, with the sign of d), as time.Unix takes them.
func (d Decimal) Seconds() (sec, nsec int64, err error) {
	sec, err = Decimal{Neg: d.Neg, Int: d.Int}.Scaled(0, false)
	if err != nil {
		return 0, 0, err
	}
	nsec, _ = Decimal{Neg: d.Neg, Frac: d.Frac}.Scaled(9, false)
	return sec, nsec, nil
}
