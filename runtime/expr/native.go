package expr

import (
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// The conditions of real flows are mostly field comparisons
// (`meta("mapping") == "dns"`, `network?.transport in ["icmp", "icmp6"]`),
// and a flow evaluates dozens of them per event. expr's VM reads fields of
// a map[string]any through reflection, which made conditions the largest
// cost of the Corelight transform in the profile. So the subset of the
// language that such conditions use is also compiled here into plain Go
// closures over the event's maps; an expression outside the subset, or a
// value the subset does not handle (a type error, say), runs on expr's VM
// and behaves exactly as expr defines. TestNativeMatchesVM holds the two
// to the same answers.

// native evaluates an expression against the event's top-level map. ok is
// false when the expression must be run by the VM instead.
type native func(env map[string]any) (v any, ok bool)

// chainNil marks a `?.` that met nil, so the rest of the chain yields nil.
type chainNilT struct{}

var chainNil = &chainNilT{}

// compileNative returns nil when src is outside the subset.
func compileNative(src string) native {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil
	}
	return build(tree.Node)
}

func build(n ast.Node) native {
	switch t := n.(type) {
	case *ast.NilNode:
		return func(map[string]any) (any, bool) { return nil, true }
	case *ast.BoolNode:
		return constant(t.Value)
	case *ast.StringNode:
		return constant(t.Value)
	case *ast.IntegerNode:
		return constant(int64(t.Value))
	case *ast.FloatNode:
		return constant(t.Value)
	case *ast.IdentifierNode:
		name := t.Value
		if name == "$env" {
			return func(env map[string]any) (any, bool) { return env, true }
		}
		return func(env map[string]any) (any, bool) { return env[name], true }
	case *ast.ChainNode:
		inner := build(t.Node)
		if inner == nil {
			return nil
		}
		return func(env map[string]any) (any, bool) {
			v, ok := inner(env)
			if v == chainNil {
				return nil, ok
			}
			return v, ok
		}
	case *ast.MemberNode:
		return buildMember(t)
	case *ast.ArrayNode:
		items := make([]native, len(t.Nodes))
		for i, c := range t.Nodes {
			if items[i] = build(c); items[i] == nil {
				return nil
			}
		}
		return func(env map[string]any) (any, bool) {
			out := make([]any, len(items))
			for i, it := range items {
				v, ok := it(env)
				if !ok {
					return nil, false
				}
				out[i] = v
			}
			return out, true
		}
	case *ast.UnaryNode:
		if t.Operator != "!" && t.Operator != "not" {
			return nil
		}
		inner := build(t.Node)
		if inner == nil {
			return nil
		}
		return func(env map[string]any) (any, bool) {
			v, ok := inner(env)
			b, isBool := v.(bool)
			if !ok || !isBool {
				return nil, false
			}
			return !b, true
		}
	case *ast.ConditionalNode:
		cond, a, b := build(t.Cond), build(t.Exp1), build(t.Exp2)
		if cond == nil || a == nil || b == nil {
			return nil
		}
		return func(env map[string]any) (any, bool) {
			c, ok := cond(env)
			cb, isBool := c.(bool)
			if !ok || !isBool {
				return nil, false
			}
			if cb {
				return a(env)
			}
			return b(env)
		}
	case *ast.BinaryNode:
		return buildBinary(t)
	case *ast.BuiltinNode:
		return buildBuiltin(t)
	}
	return nil
}

// maxBuiltinArgs is the most arguments a builtin below takes.
const maxBuiltinArgs = 2

// buildBuiltin covers the builtins that flows use on plain values.
func buildBuiltin(t *ast.BuiltinNode) native {
	args := make([]native, len(t.Arguments))
	for i, a := range t.Arguments {
		if args[i] = build(a); args[i] == nil {
			return nil
		}
	}
	if len(args) > maxBuiltinArgs {
		return nil
	}
	// eval evaluates the arguments into an array on the caller's stack,
	// so a call allocates nothing for them.
	eval := func(env map[string]any) (vals [maxBuiltinArgs]any, ok bool) {
		for i, a := range args {
			v, ok := a(env)
			if !ok || v == chainNil {
				return vals, false
			}
			vals[i] = v
		}
		return vals, true
	}
	switch {
	case t.Name == "len" && len(args) == 1:
		return func(env map[string]any) (any, bool) {
			v, ok := eval(env)
			if !ok {
				return nil, false
			}
			switch x := v[0].(type) {
			case string:
				return int64(utf8.RuneCountInString(x)), true
			case []any:
				return int64(len(x)), true
			case map[string]any:
				return int64(len(x)), true
			}
			return nil, false
		}
	case t.Name == "type" && len(args) == 1:
		return func(env map[string]any) (any, bool) {
			v, ok := eval(env)
			if !ok {
				return nil, false
			}
			switch v[0].(type) {
			case nil:
				return "nil", true
			case bool:
				return "bool", true
			case int64:
				return "int", true
			case float64:
				return "float", true
			case string:
				return "string", true
			case []any:
				return "array", true
			case map[string]any:
				return "map", true
			}
			return nil, false
		}
	case t.Name == "string" && len(args) == 1:
		return func(env map[string]any) (any, bool) {
			v, ok := eval(env)
			if !ok {
				return nil, false
			}
			s, isStr := v[0].(string)
			return s, isStr
		}
	case (t.Name == "hasPrefix" || t.Name == "hasSuffix") && len(args) == 2:
		prefix := t.Name == "hasPrefix"
		return func(env map[string]any) (any, bool) {
			v, ok := eval(env)
			if !ok {
				return nil, false
			}
			s, ok1 := v[0].(string)
			x, ok2 := v[1].(string)
			if !ok1 || !ok2 {
				return nil, false
			}
			if prefix {
				return strings.HasPrefix(s, x), true
			}
			return strings.HasSuffix(s, x), true
		}
	case (t.Name == "trimPrefix" || t.Name == "trimSuffix") && len(args) == 2:
		prefix := t.Name == "trimPrefix"
		return func(env map[string]any) (any, bool) {
			v, ok := eval(env)
			if !ok {
				return nil, false
			}
			s, ok1 := v[0].(string)
			cut, ok2 := v[1].(string)
			if !ok1 || !ok2 {
				return nil, false
			}
			if prefix {
				return strings.TrimPrefix(s, cut), true
			}
			return strings.TrimSuffix(s, cut), true
		}
	}
	return nil
}

// constantList returns the values of an array literal of constants.
func constantList(n ast.Node) ([]any, bool) {
	arr, ok := n.(*ast.ArrayNode)
	if !ok {
		return nil, false
	}
	out := make([]any, len(arr.Nodes))
	for i, c := range arr.Nodes {
		switch t := c.(type) {
		case *ast.StringNode:
			out[i] = t.Value
		case *ast.IntegerNode:
			out[i] = int64(t.Value)
		case *ast.FloatNode:
			out[i] = t.Value
		case *ast.BoolNode:
			out[i] = t.Value
		default:
			return nil, false
		}
	}
	return out, true
}

// constant boxes v once, so evaluating a literal does not allocate.
func constant(v any) native {
	return func(map[string]any) (any, bool) { return v, true }
}

func buildMember(t *ast.MemberNode) native {
	if t.Method {
		return nil
	}
	prop, ok := t.Property.(*ast.StringNode)
	if !ok {
		return nil
	}
	base := build(t.Node)
	if base == nil {
		return nil
	}
	key, optional := prop.Value, t.Optional
	return func(env map[string]any) (any, bool) {
		b, ok := base(env)
		if !ok {
			return nil, false
		}
		if b == chainNil {
			return chainNil, true
		}
		if b == nil {
			if optional {
				return chainNil, true
			}
			return nil, false // expr reports the error
		}
		m, isMap := b.(map[string]any)
		if !isMap {
			return nil, false
		}
		return m[key], true
	}
}

func buildBinary(t *ast.BinaryNode) native {
	l, r := build(t.Left), build(t.Right)
	if l == nil || r == nil {
		return nil
	}
	switch t.Operator {
	case "==", "!=":
		neg := t.Operator == "!="
		return func(env map[string]any) (any, bool) {
			a, ok1 := l(env)
			b, ok2 := r(env)
			if !ok1 || !ok2 {
				return nil, false
			}
			eq, ok := equal(a, b)
			if !ok {
				return nil, false
			}
			return eq != neg, true
		}
	case "&&", "and", "||", "or":
		and := t.Operator == "&&" || t.Operator == "and"
		return func(env map[string]any) (any, bool) {
			a, ok := l(env)
			ab, isBool := a.(bool)
			if !ok || !isBool {
				return nil, false
			}
			if and != ab {
				return ab, true // false && …, true || …
			}
			b, ok := r(env)
			bb, isBool := b.(bool)
			if !ok || !isBool {
				return nil, false
			}
			return bb, true
		}
	case "contains", "startsWith", "endsWith":
		op := t.Operator
		return func(env map[string]any) (any, bool) {
			a, ok1 := l(env)
			b, ok2 := r(env)
			as, isA := a.(string)
			bs, isB := b.(string)
			if !ok1 || !ok2 || !isA || !isB {
				return nil, false
			}
			switch op {
			case "contains":
				return strings.Contains(as, bs), true
			case "startsWith":
				return strings.HasPrefix(as, bs), true
			}
			return strings.HasSuffix(as, bs), true
		}
	case "+":
		return func(env map[string]any) (any, bool) {
			a, ok1 := l(env)
			b, ok2 := r(env)
			if !ok1 || !ok2 {
				return nil, false
			}
			if as, isStr := a.(string); isStr {
				bs, isStr := b.(string)
				return as + bs, isStr
			}
			ai, aInt := a.(int64)
			bi, bInt := b.(int64)
			if aInt && bInt {
				return ai + bi, true
			}
			fa, okA := toFloat(a)
			fb, okB := toFloat(b)
			if !okA || !okB {
				return nil, false
			}
			return fa + fb, true
		}
	case "??":
		return func(env map[string]any) (any, bool) {
			a, ok := l(env)
			if !ok {
				return nil, false
			}
			if a != nil {
				return a, true
			}
			return r(env)
		}
	case "in":
		if list, ok := constantList(t.Right); ok {
			// `x in ["a", "b"]`: the list is made once, not per event.
			return func(env map[string]any) (any, bool) {
				a, ok := l(env)
				if !ok {
					return nil, false
				}
				for _, x := range list {
					eq, ok := equal(a, x)
					if !ok {
						return nil, false
					}
					if eq {
						return true, true
					}
				}
				return false, true
			}
		}
		return func(env map[string]any) (any, bool) {
			a, ok1 := l(env)
			b, ok2 := r(env)
			list, isList := b.([]any)
			if !ok1 || !ok2 || !isList {
				return nil, false
			}
			for _, x := range list {
				eq, ok := equal(a, x)
				if !ok {
					return nil, false
				}
				if eq {
					return true, true
				}
			}
			return false, true
		}
	case "<", "<=", ">", ">=":
		op := t.Operator
		return func(env map[string]any) (any, bool) {
			a, ok1 := l(env)
			b, ok2 := r(env)
			if !ok1 || !ok2 {
				return nil, false
			}
			fa, okA := toFloat(a)
			fb, okB := toFloat(b)
			if !okA || !okB {
				return nil, false
			}
			switch op {
			case "<":
				return fa < fb, true
			case "<=":
				return fa <= fb, true
			case ">":
				return fa > fb, true
			}
			return fa >= fb, true
		}
	}
	return nil
}

// equal compares the scalar kinds the way expr does; ok is false for
// anything else, which the VM then decides.
func equal(a, b any) (eq, ok bool) {
	if a == nil || b == nil {
		return a == nil && b == nil, true
	}
	if ai, isInt := a.(int64); isInt {
		if bi, isInt := b.(int64); isInt {
			return ai == bi, true
		}
	}
	if fa, isNum := toFloat(a); isNum {
		fb, isNum := toFloat(b)
		if !isNum {
			_, bIsScalar := scalar(b)
			return false, bIsScalar
		}
		return fa == fb, true
	}
	switch at := a.(type) {
	case string:
		bs, isStr := b.(string)
		if !isStr {
			_, bIsScalar := scalar(b)
			return false, bIsScalar
		}
		return at == bs, true
	case bool:
		bb, isBool := b.(bool)
		if !isBool {
			_, bIsScalar := scalar(b)
			return false, bIsScalar
		}
		return at == bb, true
	}
	return false, false
}

func scalar(v any) (any, bool) {
	switch v.(type) {
	case string, bool, int64, int, float64:
		return v, true
	}
	return nil, false
}

func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case int64:
		return float64(t), true
	case int:
		return float64(t), true
	case float64:
		return t, true
	}
	return 0, false
}
