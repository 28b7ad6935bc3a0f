// Package split is the filter that splits text into an array: Zeek's
// comma-joined sets and vectors (when a sensor writes them as text) become
// the arrays Elasticsearch indexes term by term.
package split

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/field"
	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindFilter,
		Name:    "split",
		Summary: "split text into an array at a separator (one event stays one event)",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// Split is the split filter. Its exported fields are its settings; see
// sample.yaml for what each one means.
type Split struct {
	Field       string `yaml:"field"`
	Separator   string `yaml:"separator"`
	Target      string `yaml:"target"`
	Trim        bool   `yaml:"trim"`
	RemoveEmpty bool   `yaml:"remove_empty"`

	field, target sdk.Path
}

// New returns the filter with its defaults set.
func New() *Split { return &Split{Separator: ",", Trim: true, RemoveEmpty: true} }

// Validate parses the references once.
func (s *Split) Validate() error {
	var err error
	if s.Field == "" {
		return fmt.Errorf("field: name the field to split, e.g. `field: tls.client.certificate_chain`")
	}
	if s.field, err = field.Parse("field", s.Field); err != nil {
		return err
	}
	s.target = s.field
	if s.Target != "" {
		if s.target, err = field.Parse("target", s.Target); err != nil {
			return err
		}
	}
	if s.Separator == "" {
		return fmt.Errorf("separator: must not be empty; the default is \",\"")
	}
	return nil
}

// Apply splits the field's text into an array at the target. An array is
// left as it is (and copied to a target that differs); a missing or null
// field is skipped.
func (s *Split) Apply(ev *sdk.Event) error {
	v, ok := ev.Get(s.field)
	if !ok || v == nil {
		return nil
	}
	switch t := v.(type) {
	case []any:
		if field.Same(s.field, s.target) {
			return nil
		}
		return field.Set(ev, s.target, field.Clone(t))
	case string:
		return field.Set(ev, s.target, s.split(t))
	}
	return fmt.Errorf("cannot split field %s: it holds %s (%s), not text",
		s.field, field.Kind(v), field.Quote(v))
}

func (s *Split) split(text string) []any {
	out := make([]any, 0, strings.Count(text, s.Separator)+1)
	for {
		piece, rest, more := strings.Cut(text, s.Separator)
		if s.Trim {
			piece = strings.TrimSpace(piece)
		}
		if piece != "" || !s.RemoveEmpty {
			out = append(out, piece)
		}
		if !more {
			return out
		}
		text = rest
	}
}

var (
	_ sdk.Filter    = (*Split)(nil)
	_ sdk.Validator = (*Split)(nil)
)
