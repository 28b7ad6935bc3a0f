// Package convert is the filter that changes the type of field values:
// text to numbers, numbers to text, flags to booleans, addresses to their
// canonical form, seconds to nanoseconds.
package convert

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/field"
	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/num"
	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindFilter,
		Name:    "convert",
		Summary: "convert field values to integer, float, string, boolean, ip or nanoseconds",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// Convert is the convert filter. Its exported fields are its settings; see
// sample.yaml for what each one means.
type Convert struct {
	Fields field.Mapping `yaml:"fields"`

	convs []conversion
}

type conversion struct {
	path sdk.Path
	to   string
	fn   func(any) (any, error)
}

// converters maps each type name to its function. A function gets a value
// that is not nil and not an array.
var converters = map[string]func(any) (any, error){
	"integer":     toInteger,
	"float":       toFloat,
	"string":      toString,
	"boolean":     toBoolean,
	"ip":          toIP,
	"nanoseconds": toNanoseconds,
}

const typeNames = "integer, float, string, boolean, ip, nanoseconds"

// New returns the filter with its defaults set.
func New() *Convert { return &Convert{} }

// Validate parses the references and checks the type names, once.
func (c *Convert) Validate() error {
	if len(c.Fields) == 0 {
		return fmt.Errorf("fields: name at least one field and its type, e.g. `fields: {duration: float}`")
	}
	c.convs = c.convs[:0]
	for _, e := range c.Fields {
		where := fmt.Sprintf("fields (line %d)", e.Line)
		p, err := field.Parse(where, e.Key)
		if err != nil {
			return err
		}
		to, _ := e.String()
		fn, ok := converters[to]
		if !ok {
			return fmt.Errorf("%s: %s: unknown type %q; the types are %s", where, e.Key, to, typeNames)
		}
		c.convs = append(c.convs, conversion{path: p, to: to, fn: fn})
	}
	return nil
}

// Apply converts each field that exists. An array is converted element by
// element. A value that cannot be converted fails the event, naming the
// field and the value; that field is left as it was.
func (c *Convert) Apply(ev *sdk.Event) error {
	for _, cv := range c.convs {
		v, ok := ev.Get(cv.path)
		if !ok || v == nil {
			continue
		}
		out, err := cv.convert(v)
		if err != nil {
			return err
		}
		if err := field.Set(ev, cv.path, out); err != nil {
			return err
		}
	}
	return nil
}

func (cv conversion) convert(v any) (any, error) {
	arr, ok := v.([]any)
	if !ok {
		out, err := cv.fn(v)
		if err != nil {
			return nil, cv.fail(cv.path.String(), v, err)
		}
		return out, nil
	}
	out := make([]any, len(arr))
	for i, x := range arr {
		if x == nil {
			continue
		}
		y, err := cv.fn(x)
		if err != nil {
			return nil, cv.fail(fmt.Sprintf("%s (element %d)", cv.path, i), x, err)
		}
		out[i] = y
	}
	return out, nil
}

func (cv conversion) fail(name string, v any, err error) error {
	return fmt.Errorf("cannot convert field %s to %s: %s %w; fix the value at the source, "+
		"or set on_error: tag on this step to pass such events on tagged", name, cv.to, field.Quote(v), err)
}

// Reasons, completed by the value: `"abc" is not a number`.
var (
	errNotNumber  = errors.New("is not a number")
	errFraction   = errors.New("has a fraction, which an integer cannot hold")
	errRange      = errors.New("is too large for a 64-bit integer")
	errNotBoolean = errors.New("is not a boolean (true/false, t/f, 1/0)")
	errNotIP      = errors.New("is not an IPv4 or IPv6 address")
	errKind       = errors.New("cannot be converted: only text, numbers and booleans can")
)

func toInteger(v any) (any, error) {
	switch t := v.(type) {
	case int64:
		return t, nil
	case float64:
		if t != math.Trunc(t) {
			return nil, errFraction
		}
		if t < -(1<<63) || t >= 1<<63 {
			return nil, errRange
		}
		return int64(t), nil
	case string:
		if i, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64); err == nil {
			return i, nil
		}
		d, err := num.Parse(t)
		if err != nil {
			return nil, errNotNumber
		}
		if !d.IsWhole() {
			return nil, errFraction
		}
		i, err := d.Scaled(0, false)
		if err != nil {
			return nil, errRange
		}
		return i, nil
	case bool:
		return nil, errNotNumber
	}
	return nil, errKind
}

func toFloat(v any) (any, error) {
	switch t := v.(type) {
	case float64:
		return t, nil
	case int64:
		return float64(t), nil
	case string:
		s := strings.TrimSpace(t)
		if _, err := num.Parse(s); err != nil { // refuses NaN, Inf, hex
			return nil, errNotNumber
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, errNotNumber
		}
		return f, nil
	case bool:
		return nil, errNotNumber
	}
	return nil, errKind
}

func toString(v any) (any, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	case float64:
		return field.FormatFloat(t), nil
	case bool:
		return strconv.FormatBool(t), nil
	}
	return nil, errKind
}

func toBoolean(v any) (any, error) {
	switch t := v.(type) {
	case bool:
		return t, nil
	case int64:
		switch t {
		case 1:
			return true, nil
		case 0:
			return false, nil
		}
	case float64:
		switch t {
		case 1:
			return true, nil
		case 0:
			return false, nil
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "true", "t", "1":
			return true, nil
		case "false", "f", "0":
			return false, nil
		}
	default:
		return nil, errKind
	}
	return nil, errNotBoolean
}

func toIP(v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, errNotIP
	}
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return nil, errNotIP
	}
	return a.String(), nil
}

func toNanoseconds(v any) (any, error) {
	d, ok, err := num.FromValue(v)
	if !ok {
		if _, isBool := v.(bool); isBool {
			return nil, errNotNumber
		}
		return nil, errKind
	}
	if err != nil {
		return nil, errNotNumber
	}
	ns, err := d.Scaled(9, true)
	if err != nil {
		return nil, errors.New("is too many seconds for 64-bit nanoseconds (about 292 years)")
	}
	return ns, nil
}

var (
	_ sdk.Filter    = (*Convert)(nil)
	_ sdk.Validator = (*Convert)(nil)
)
