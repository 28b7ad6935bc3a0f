// Package domain is the filter that splits a host name into the parts ECS
// names: registered domain, top-level domain, subdomain. Analysts group DNS
// queries, TLS server names and HTTP hosts by registered domain to see
// through per-request subdomains.
package domain

import (
	_ "embed"
	"fmt"
	"net/netip"
	"strings"

	"github.com/weppos/publicsuffix-go/publicsuffix"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/field"
	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindFilter,
		Name:    "domain",
		Summary: "split a host name into registered domain, top-level domain and subdomain",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// The modes.
const (
	ModeNaive        = "naive"
	ModePublicSuffix = "public_suffix"
)

// Domain is the domain filter. Its exported fields are its settings; see
// sample.yaml for what each one means.
type Domain struct {
	Field  string `yaml:"field"`
	Target string `yaml:"target"`
	Mode   string `yaml:"mode"`

	field                                   sdk.Path
	registered, topLevel, subdomain, parent sdk.Path
	naive                                   bool
}

// New returns the filter with its defaults set.
func New() *Domain { return &Domain{} }

// findOptions: ICANN and private rules, as Elastic's registered_domain
// processor uses them, and no default rule, so a name under a suffix the
// list does not know (corp.internal) gets no parts rather than a guess.
var findOptions = &publicsuffix.FindOptions{IgnorePrivate: false, DefaultRule: nil}

// Validate parses the references and checks the mode, once.
func (d *Domain) Validate() error {
	var err error
	if d.Field == "" {
		return fmt.Errorf("field: name the field that holds the host name, e.g. `field: dns.question.name`")
	}
	if d.field, err = field.Parse("field", d.Field); err != nil {
		return err
	}
	if d.Target == "" {
		return fmt.Errorf("target: name the object the parts go under, e.g. `target: dns.question` " +
			"writes dns.question.registered_domain")
	}
	target, err := field.Parse("target", d.Target)
	if err != nil {
		return err
	}
	for name, dst := range map[string]*sdk.Path{
		"registered_domain": &d.registered, "top_level_domain": &d.topLevel,
		"subdomain": &d.subdomain, "parent_domain": &d.parent,
	} {
		if *dst, err = field.Child("target", target, name); err != nil {
			return err
		}
	}
	switch d.Mode {
	case ModeNaive:
		d.naive = true
	case ModePublicSuffix:
		d.naive = false
	default:
		return fmt.Errorf("mode: %q is not naive (the last label is the top-level domain) or public_suffix "+
			"(the public suffix list decides, as Elastic's registered_domain processor does)", d.Mode)
	}
	return nil
}

// Parts are the pieces of a host name; empty ones are not written.
type Parts struct {
	Registered, TopLevel, Subdomain, Parent string
}

// Apply splits the field's host name and writes the parts under target.
// A missing or null field, an empty name, an IP address or a name that
// cannot be split writes nothing.
func (d *Domain) Apply(ev *sdk.Event) error {
	v, ok := ev.Get(d.field)
	if !ok || v == nil {
		return nil
	}
	name, ok := v.(string)
	if !ok {
		return fmt.Errorf("cannot split field %s into domain parts: it holds %s (%s), not a host name",
			d.field, field.Kind(v), field.Quote(v))
	}
	var p Parts
	if d.naive {
		p = Naive(name)
	} else {
		p = PublicSuffix(name)
	}
	for _, w := range []struct {
		path  sdk.Path
		value string
	}{
		{d.registered, p.Registered}, {d.topLevel, p.TopLevel},
		{d.subdomain, p.Subdomain}, {d.parent, p.Parent},
	} {
		if w.value == "" {
			continue
		}
		if err := field.Set(ev, w.path, w.value); err != nil {
			return err
		}
	}
	return nil
}

// labels trims a trailing dot and reports whether name is a host name
// with no empty label, not an IP address.
func labels(name string) (string, bool) {
	name = strings.TrimSuffix(name, ".")
	if name == "" || strings.HasPrefix(name, ".") || strings.Contains(name, "..") {
		return "", false
	}
	if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return "", false
	}
	return name, true
}

// Naive splits at the last two dots: the last label is the top-level
// domain, the one before it the parent domain, the two together the
// registered domain, and everything before them the subdomain.
func Naive(name string) Parts {
	name, ok := labels(name)
	if !ok {
		return Parts{}
	}
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return Parts{TopLevel: name}
	}
	p := Parts{TopLevel: name[i+1:]}
	rest := name[:i]
	j := strings.LastIndexByte(rest, '.')
	p.Parent = rest[j+1:]
	p.Registered = p.Parent + "." + p.TopLevel
	if j >= 0 {
		p.Subdomain = rest[:j]
	}
	return p
}

// PublicSuffix splits by the public suffix list (ICANN and private
// sections): the top-level domain is the public suffix (co.uk,
// blogspot.com), the registered domain the label before it with the
// suffix, the subdomain the rest. The name is lower-cased. A name that is
// itself a public suffix gets only the top-level domain; one under a
// suffix the list does not know gets nothing.
func PublicSuffix(name string) Parts {
	name, ok := labels(strings.ToLower(name))
	if !ok {
		return Parts{}
	}
	rule := publicsuffix.DefaultList.Find(name, findOptions)
	if rule == nil {
		return Parts{}
	}
	split := rule.Decompose(name)
	left, suffix := split[0], split[1]
	if suffix == "" {
		return Parts{TopLevel: name}
	}
	p := Parts{TopLevel: suffix}
	i := strings.LastIndexByte(left, '.')
	p.Registered = left[i+1:] + "." + suffix
	if i >= 0 {
		p.Subdomain = left[:i]
	}
	return p
}

var (
	_ sdk.Filter    = (*Domain)(nil)
	_ sdk.Validator = (*Domain)(nil)
)
