// Package date is the filter that reads an event's time from a field and
// writes it as RFC 3339 text in UTC with a fixed number of fraction digits,
// the form Elasticsearch's date fields and data streams take.
package date

import (
	_ "embed"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // so timezone works in a container without zoneinfo files

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/field"
	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindFilter,
		Name:    "date",
		Summary: "parse a time (ISO 8601, epoch seconds or millis, RFC 2822, Go layouts) into @timestamp",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// Date is the date filter. Its exported fields are its settings; see
// sample.yaml for what each one means.
type Date struct {
	Field       string     `yaml:"field"`
	Target      string     `yaml:"target"`
	Formats     field.List `yaml:"formats"`
	Precision   string     `yaml:"precision"`
	Timezone    string     `yaml:"timezone"`
	RemoveField bool       `yaml:"remove_field"`
	Required    bool       `yaml:"required"`

	field, target sdk.Path
	parsers       []parser
	digits        int // fraction digits written: 3, 6 or 9
	loc           *time.Location
	formatList    string // for messages
}

// parser reads v as a time; ok is false when v is not in its format.
type parser func(v any, loc *time.Location) (t time.Time, ok bool)

// New returns the filter with its defaults set.
func New() *Date {
	return &Date{
		Field:     "ts",
		Target:    "@timestamp",
		Formats:   field.List{"iso8601", "unix"},
		Precision: "micros",
		Timezone:  "UTC",
	}
}

// Validate parses the references, the formats and the time zone, once.
// Loading a zone reads the system's zone database or, failing that, the
// copy built into the binary.
func (d *Date) Validate() error {
	var err error
	if d.field, err = field.Parse("field", d.Field); err != nil {
		return err
	}
	if d.target, err = field.Parse("target", d.Target); err != nil {
		return err
	}

	switch d.Precision {
	case "millis":
		d.digits = 3
	case "micros":
		d.digits = 6
	case "nanos":
		d.digits = 9
	default:
		return fmt.Errorf("precision: %q is not one of millis, micros, nanos", d.Precision)
	}

	if d.loc, err = time.LoadLocation(d.Timezone); err != nil || d.Timezone == "" {
		return fmt.Errorf("timezone: %q is not a time zone; use a name from the IANA database such as "+
			"UTC or Europe/Berlin", d.Timezone)
	}

	if len(d.Formats) == 0 {
		return fmt.Errorf("formats: name at least one format: iso8601, unix, unix_ms, rfc2822 or a Go layout")
	}
	d.parsers = d.parsers[:0]
	for i, f := range d.Formats {
		p, err := parserFor(f)
		if err != nil {
			return fmt.Errorf("formats[%d]: %w", i, err)
		}
		d.parsers = append(d.parsers, p)
	}
	d.formatList = strings.Join(d.Formats, ", ")
	return nil
}

func parserFor(format string) (parser, error) {
	switch strings.ToLower(format) {
	case "iso8601":
		return parseISO, nil
	case "unix":
		return parseUnix, nil
	case "unix_ms":
		return parseUnixMillis, nil
	case "rfc2822":
		return parseRFC2822, nil
	}
	// A Go layout: it must hold at least the day of the month (or of the
	// year), or it is a typo ("iso8061" is a valid but useless layout) or a
	// pattern from another tool (yyyy-MM-dd). The day is the only element
	// of this time that writes 23 (or 327, the day of the year).
	other := time.Date(2011, 11, 23, 19, 37, 48, 0, time.UTC)
	if out := other.Format(format); !strings.Contains(out, "23") && !strings.Contains(out, "327") {
		return nil, fmt.Errorf("%q is not a known format (iso8601, unix, unix_ms, rfc2822) nor a Go time layout "+
			"with a day in it; a layout writes the reference time Mon Jan 2 15:04:05 MST 2006 the way the "+
			"sensor writes its times, e.g. \"2006-01-02 15:04:05\"", format)
	}
	if _, err := time.Parse(format, other.Format(format)); err != nil {
		return nil, fmt.Errorf("Go time layout %q cannot read its own output: %w", format, err)
	}
	return func(v any, loc *time.Location) (time.Time, bool) {
		s, ok := v.(string)
		if !ok {
			return time.Time{}, false
		}
		t, err := time.ParseInLocation(format, s, loc)
		return t, err == nil
	}, nil
}

// Apply parses the field and writes the target. A missing or null field
// is skipped unless required is set.
func (d *Date) Apply(ev *sdk.Event) error {
	v, ok := ev.Get(d.field)
	if !ok || v == nil {
		if d.Required {
			return fmt.Errorf("field %s is missing and required is true: the event has no time; "+
				"check the sensor's output, or set required: false to pass such events on", d.field)
		}
		return nil
	}
	switch v.(type) {
	case string, int64, float64:
	default:
		return fmt.Errorf("cannot read field %s as a time: it holds %s (%s); a time is text or a number",
			d.field, field.Kind(v), field.Quote(v))
	}

	for _, p := range d.parsers {
		t, ok := p(v, d.loc)
		if !ok {
			continue
		}
		if y := t.UTC().Year(); y < 0 || y > 9999 {
			return fmt.Errorf("cannot read field %s as a time: %s is the year %d, outside 0000-9999",
				d.field, field.Quote(v), y)
		}
		var buf [40]byte
		if err := field.Set(ev, d.target, string(appendTime(buf[:0], t, d.digits))); err != nil {
			return err
		}
		if d.RemoveField && !field.Same(d.field, d.target) {
			ev.Delete(d.field)
		}
		return nil
	}
	return fmt.Errorf("cannot read field %s as a time: %s matches none of the formats (%s); "+
		"fix the value at the source or add its layout to formats", d.field, field.Quote(v), d.formatList)
}

// appendTime writes t in UTC as 2006-01-02T15:04:05.000000Z with digits
// fraction digits, truncated. It is time.Format's work without its layout
// interpretation, on the path of every event.
func appendTime(b []byte, t time.Time, digits int) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	b = appendInt(b, year, 4)
	b = append(b, '-')
	b = appendInt(b, int(month), 2)
	b = append(b, '-')
	b = appendInt(b, day, 2)
	b = append(b, 'T')
	b = appendInt(b, hour, 2)
	b = append(b, ':')
	b = appendInt(b, min, 2)
	b = append(b, ':')
	b = appendInt(b, sec, 2)
	b = append(b, '.')
	frac := t.Nanosecond()
	for i := 9; i > digits; i-- {
		frac /= 10
	}
	b = appendInt(b, frac, digits)
	return append(b, 'Z')
}

// appendInt writes v, which is not negative, with at least width digits.
func appendInt(b []byte, v, width int) []byte {
	var tmp [12]byte
	i := len(tmp)
	for v > 0 || width > 0 {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	return append(b, tmp[i:]...)
}

var (
	_ sdk.Filter    = (*Date)(nil)
	_ sdk.Validator = (*Date)(nil)
)
