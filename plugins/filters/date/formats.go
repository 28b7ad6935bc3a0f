package date

import (
	"net/mail"
	"time"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/num"
)

// parseUnix reads seconds since 1970 from a number or numeric text. The
// digits after the point are read as written, so 1547188415.857497 keeps
// its microseconds exactly; a float64 product would not.
func parseUnix(v any, _ *time.Location) (time.Time, bool) {
	d, ok, err := num.FromValue(v)
	if !ok || err != nil {
		return time.Time{}, false
	}
	return fromDecimal(d)
}

// parseUnixMillis reads milliseconds since 1970.
func parseUnixMillis(v any, _ *time.Location) (time.Time, bool) {
	d, ok, err := num.FromValue(v)
	if !ok || err != nil {
		return time.Time{}, false
	}
	return fromDecimal(d.Shift(3))
}

func fromDecimal(d num.Decimal) (time.Time, bool) {
	sec, nsec, err := d.Seconds()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(sec, nsec), true
}

// parseRFC2822 reads the date of a mail header (RFC 5322 and the older
// forms it allows): "Thu, 24 Mar 2018 17:15:20 +0000", with or without the
// day name, seconds or a numeric zone.
func parseRFC2822(v any, _ *time.Location) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := mail.ParseDate(s)
	return t, err == nil
}

// parseISO reads ISO 8601 / RFC 3339 text in the extended form:
//
//	2018-03-24
//	2018-03-24T17:15
//	2018-03-24T17:15:20
//	2018-03-24T17:15:20.865716
//	2018-03-24T17:15:20,865716Z
//	2018-03-24 17:15:20.865716+01:00   (also +0100 and +01)
//
// Any number of fraction digits is accepted; digits past nanoseconds are
// dropped. Text without a zone is read in loc.
func parseISO(v any, loc *time.Location) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	p := isoParser{s: s}
	year, ok1 := p.digits(4)
	ok2 := p.byte('-')
	month, ok3 := p.digits(2)
	ok4 := p.byte('-')
	day, ok5 := p.digits(2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) {
		return time.Time{}, false
	}
	if p.done() {
		return time.Date(year, time.Month(month), day, 0, 0, 0, 0, loc), true
	}

	if !p.byte('T') && !p.byte('t') && !p.byte(' ') {
		return time.Time{}, false
	}
	hour, ok1 := p.digits(2)
	ok2 = p.byte(':')
	minute, ok3 := p.digits(2)
	if !(ok1 && ok2 && ok3) || hour > 23 || minute > 59 {
		return time.Time{}, false
	}
	var sec, nsec int
	if p.byte(':') {
		if sec, ok = p.digits(2); !ok || sec > 59 {
			return time.Time{}, false
		}
		if p.byte('.') || p.byte(',') {
			n := 0
			for scale := 100000000; p.i < len(p.s) && isDigit(p.s[p.i]); p.i++ {
				nsec += int(p.s[p.i]-'0') * scale
				scale /= 10
				n++
			}
			if n == 0 {
				return time.Time{}, false
			}
		}
	}

	zone := loc
	switch {
	case p.done():
	case p.byte('Z') || p.byte('z'):
		zone = time.UTC
	case p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-'):
		sign := 1
		if p.s[p.i] == '-' {
			sign = -1
		}
		p.i++
		zh, ok := p.digits(2)
		if !ok || zh > 23 {
			return time.Time{}, false
		}
		zm := 0
		if !p.done() {
			p.byte(':')
			if zm, ok = p.digits(2); !ok || zm > 59 {
				return time.Time{}, false
			}
		}
		zone = time.FixedZone("", sign*(zh*3600+zm*60))
	}
	if !p.done() {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, zone), true
}

type isoParser struct {
	s string
	i int
}

func (p *isoParser) done() bool { return p.i == len(p.s) }

func (p *isoParser) byte(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *isoParser) digits(n int) (int, bool) {
	if len(p.s)-p.i < n {
		return 0, false
	}
	v := 0
	for _, c := range []byte(p.s[p.i : p.i+n]) {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	p.i += n
	return v, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
