package flow

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// noExpand names the keys whose values are expressions: the environment
// is not substituted there, so a variable's value can never become code.
var noExpand = map[string]bool{"if": true, "when": true, "expr": true, "enabled": true}

// expand substitutes ${VAR}, ${VAR:-default} and ${VAR:+word} in the
// scalar values below n, in place. `$${` writes a literal `${`.
func (l *loader) expand(n *yaml.Node) error {
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return nil
		}
		v, err := l.subst(n.Value)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		if v != n.Value && n.Tag != "!!str" {
			// The value came from the environment: keep it a string
			// unless YAML typed the original as something else on
			// purpose; settings decode "8" into an int field fine.
			n.Tag = ""
			n.Style = 0
		}
		n.Value = v
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if noExpand[n.Content[i].Value] {
				continue
			}
			if err := l.expand(n.Content[i+1]); err != nil {
				return err
			}
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for _, c := range n.Content {
			if err := l.expand(c); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *loader) subst(s string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("%q: `${` without a closing `}`", s)
		}
		b.WriteString(s[:i])
		ref := s[i+2 : i+j]
		s = s[i+j+1:]

		name, op, arg := ref, "", ""
		if k := strings.Index(ref, ":-"); k >= 0 {
			name, op, arg = ref[:k], ":-", ref[k+2:]
		} else if k := strings.Index(ref, ":+"); k >= 0 {
			name, op, arg = ref[:k], ":+", ref[k+2:]
		}
		if !validEnvName(name) {
			return "", fmt.Errorf("${%s}: %q is not an environment variable name", ref, name)
		}
		val, ok := l.env(name)
		switch op {
		case ":-":
			if !ok || val == "" {
				val = arg
			}
		case ":+":
			if ok && val != "" {
				val = arg
			} else {
				val = ""
			}
		default:
			if !ok {
				return "", fmt.Errorf("environment variable %s is not set; set it, or write ${%s:-default} in the flow", name, name)
			}
		}
		b.WriteString(val)
	}
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}
