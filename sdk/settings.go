package sdk

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DecodeSettings decodes a plugin's settings from a YAML mapping into dst,
// a pointer to the plugin. It is strict: a key that matches no setting is
// an error naming the line, the key and the settings that exist, so a typo
// never silently falls back to a default.
func DecodeSettings(node *yaml.Node, dst any) error {
	if node == nil || node.Kind == 0 {
		return nil
	}
	if node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
		node = node.Content[0]
	}
	if node.Tag == "!!null" {
		return nil
	}
	if err := checkKeys(node, reflect.TypeOf(dst)); err != nil {
		return err
	}
	if err := node.Decode(dst); err != nil {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n  "))
	}
	return nil
}

// DecodeSettingsText is DecodeSettings for settings that arrive as YAML
// text, as they do in a plugin process.
func DecodeSettingsText(text []byte, dst any) error {
	if len(strings.TrimSpace(string(text))) == 0 {
		return nil
	}
	var n yaml.Node
	if err := yaml.Unmarshal(text, &n); err != nil {
		return err
	}
	return DecodeSettings(&n, dst)
}

func checkKeys(n *yaml.Node, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if t == nodeType {
		return nil // free-form YAML, passed on as it is
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil // node.Decode reports the type mismatch with its line
		}
		if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
			return nil
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				return fmt.Errorf("line %d: unknown setting %q (settings here: %s)",
					k.Line, k.Value, strings.Join(sortedKeys(fields), ", "))
			}
			if err := checkKeys(v, ft); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for _, c := range n.Content {
			if err := checkKeys(c, t.Elem()); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 1; i < len(n.Content); i += 2 {
			if err := checkKeys(n.Content[i], t.Elem()); err != nil {
				return err
			}
		}
	}
	return nil
}

var nodeType = reflect.TypeOf(yaml.Node{})

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range yamlFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func sortedKeys(m map[string]reflect.Type) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
