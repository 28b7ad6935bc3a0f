package tenant

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// IDList is the allow setting: a YAML list of tenant ids, or one string of
// ids separated by commas, which is how an environment variable carries a
// list (`allow: ${MDRSFLOW_TENANTS:-}`). Entries are trimmed and blank ones
// ignored, so an empty string or an unset variable is an empty list: any
// valid tenant. Commas with no id at all are refused.
type IDList []string

// UnmarshalYAML accepts a string, a list of strings, or null.
func (l *IDList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	var raw []string
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() != "!!null" {
			raw = []string{n.Value}
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind == yaml.AliasNode {
				c = c.Alias
			}
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: expected a tenant id, found a nested list or mapping", c.Line)
			}
			raw = append(raw, c.Value)
		}
	default:
		return fmt.Errorf("line %d: expected tenant ids as a list or a comma-separated string", n.Line)
	}
	out := IDList{}
	written := false
	for _, s := range raw {
		written = written || strings.TrimSpace(s) != ""
		for _, id := range strings.Split(s, ",") {
			if id = strings.TrimSpace(id); id != "" {
				out = append(out, id)
			}
		}
	}
	if written && len(out) == 0 {
		// " , ," is a list whose ids went missing (an unset variable
		// inside a longer one, say), not a wish to allow every tenant.
		return fmt.Errorf("line %d: allow holds only commas and blanks (%q), no tenant id; "+
			"name the tenants, or leave it empty to allow any valid tenant", n.Line, strings.Join(raw, ","))
	}
	*l = out
	return nil
}

// lowerASCII lower-cases A-Z and nothing else. strings.ToLower would
// also fold a few non-ASCII letters into ASCII ones (the Kelvin sign K
// becomes k), so a tenant id could be spelt in ways nobody reads as the
// same name; those stay invalid instead.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
