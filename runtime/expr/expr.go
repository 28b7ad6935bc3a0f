// Package expr compiles the expressions of flow files (`if:` on filters,
// `when:` on outputs, computed values) with expr-lang/expr, once when the
// flow loads, and runs them against events.
//
// The environment of an expression is the event itself: `proto` is the
// top-level field proto, `source.ip` walks into the object source, and
// `$env["id.orig_h"]` reads a key that holds dots. Metadata is
// `$env["@metadata"]`, and the shorthand `meta("tenant")` reads one key of
// it. A field that does not exist is nil; use `?.` to walk through objects
// that may be missing: `source?.bytes`.
package expr

import (
	"fmt"
	"os"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	exprbuiltin "github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/mdrsflow/mdrsflow/runtime/event"
)

// Program is a compiled expression. It is safe for concurrent use.
type Program struct {
	src    string
	prog   *vm.Program
	native native // nil when the expression needs the VM
}

func options(extra ...expr.Option) []expr.Option {
	opts := []expr.Option{
		expr.Env(map[string]any{}),
		expr.AllowUndefinedVariables(),
		expr.Function("meta", func(params ...any) (any, error) {
			return nil, fmt.Errorf("meta() is evaluated per event")
		}),
		expr.Function("env", func(params ...any) (any, error) {
			name, _ := params[0].(string)
			return os.Getenv(name), nil
		}, new(func(string) string)),
		expr.Function("lower", func(params ...any) (any, error) {
			s, _ := params[0].(string)
			return strings.ToLower(s), nil
		}, new(func(string) string)),
	}
	return append(opts, extra...)
}

// ourFuncs are the functions this package adds to expr's builtins.
var ourFuncs = map[string]bool{"meta": true, "env": true, "lower": true}

// checkCalls rejects a call of a function that does not exist. With
// undefined variables allowed (a missing field is nil), expr would accept
// `nosuchfunc(x)` and fail on every event at run time instead.
func checkCalls(src string) error {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil // Compile reports syntax errors with position
	}
	var bad string
	ast.Walk(&tree.Node, visitor(func(n *ast.Node) {
		call, ok := (*n).(*ast.CallNode)
		if !ok || bad != "" {
			return
		}
		if id, ok := call.Callee.(*ast.IdentifierNode); ok {
			if _, builtin := exprbuiltin.Index[id.Value]; !builtin && !ourFuncs[id.Value] {
				bad = id.Value
			}
		}
	}))
	if bad != "" {
		return fmt.Errorf("unknown function %s(); the functions are expr-lang's builtins "+
			"(https://expr-lang.org/docs/language-definition) and meta(), env(), lower()", bad)
	}
	return nil
}

type visitor func(*ast.Node)

func (v visitor) Visit(n *ast.Node) { v(n) }

// Compile compiles src for evaluation against events.
func Compile(src string) (*Program, error) {
	if err := checkCalls(src); err != nil {
		return nil, fmt.Errorf("expression %q: %w", src, err)
	}
	rw := rewriteMeta(src)
	p, err := expr.Compile(rw, options()...)
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", src, err)
	}
	return &Program{src: src, prog: p, native: compileNative(rw)}, nil
}

// CompileBool compiles a condition; it must give a boolean.
func CompileBool(src string) (*Program, error) {
	if err := checkCalls(src); err != nil {
		return nil, fmt.Errorf("condition %q: %w", src, err)
	}
	rw := rewriteMeta(src)
	p, err := expr.Compile(rw, options(expr.AsBool())...)
	if err != nil {
		return nil, fmt.Errorf("condition %q: %w", src, err)
	}
	return &Program{src: src, prog: p, native: compileNative(rw)}, nil
}

// rewriteMeta turns meta("x") into a read of the metadata object, so that
// the function needs no access to the event.
func rewriteMeta(src string) string {
	if !strings.Contains(src, "meta(") {
		return src
	}
	var b strings.Builder
	for {
		i := strings.Index(src, "meta(")
		if i < 0 || (i > 0 && isIdent(src[i-1])) {
			if i < 0 {
				b.WriteString(src)
				return b.String()
			}
			b.WriteString(src[:i+5])
			src = src[i+5:]
			continue
		}
		j := strings.IndexByte(src[i:], ')')
		if j < 0 {
			b.WriteString(src)
			return b.String()
		}
		arg := src[i+5 : i+j]
		b.WriteString(src[:i])
		b.WriteString(`($env["@metadata"]?.[` + arg + `])`)
		src = src[i+j+1:]
	}
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// String returns the expression as written.
func (p *Program) String() string { return p.src }

// Eval runs the expression against ev.
func (p *Program) Eval(ev *event.Event) (any, error) {
	if p.native != nil {
		if v, ok := p.native(ev.Fields()); ok {
			return normalize(v), nil
		}
	}
	v, err := expr.Run(p.prog, ev.Fields())
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", p.src, err)
	}
	return normalize(v), nil
}

// EvalBool runs a condition against ev.
func (p *Program) EvalBool(ev *event.Event) (bool, error) {
	if p.native != nil {
		if v, ok := p.native(ev.Fields()); ok {
			if b, isBool := v.(bool); isBool {
				return b, nil
			}
		}
	}
	v, err := expr.Run(p.prog, ev.Fields())
	if err != nil {
		return false, fmt.Errorf("condition %q: %w", p.src, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %q gave %T, not a boolean", p.src, v)
	}
	return b, nil
}

// normalize maps expr's result types onto the event's value types.
func normalize(v any) any {
	switch t := v.(type) {
	case int:
		return int64(t)
	case int32:
		return int64(t)
	case float32:
		return float64(t)
	case []string:
		out := make([]any, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out
	case []any:
		for i, x := range t {
			t[i] = normalize(x)
		}
		return t
	}
	return v
}

// MetaTest reports whether the condition only compares one metadata key
// with constant text: `meta("k") == "v"`, `"v" == meta("k")` or
// `meta("k") in ["v", "w"]`. Such a condition holds exactly when the key
// holds a string among values, so a run of them can be decided by reading
// the key once (see the chain's guard dispatch).
func (p *Program) MetaTest() (key string, values []string, ok bool) {
	tree, err := parser.Parse(p.src)
	if err != nil {
		return "", nil, false
	}
	bin, isBin := tree.Node.(*ast.BinaryNode)
	if !isBin {
		return "", nil, false
	}
	switch bin.Operator {
	case "==":
		if k, ok := metaCall(bin.Left); ok {
			if s, ok := bin.Right.(*ast.StringNode); ok {
				return k, []string{s.Value}, true
			}
		}
		if k, ok := metaCall(bin.Right); ok {
			if s, ok := bin.Left.(*ast.StringNode); ok {
				return k, []string{s.Value}, true
			}
		}
	case "in":
		k, ok := metaCall(bin.Left)
		arr, isArr := bin.Right.(*ast.ArrayNode)
		if !ok || !isArr || len(arr.Nodes) == 0 {
			return "", nil, false
		}
		for _, n := range arr.Nodes {
			s, ok := n.(*ast.StringNode)
			if !ok {
				return "", nil, false
			}
			values = append(values, s.Value)
		}
		return k, values, true
	}
	return "", nil, false
}

// metaCall recognises meta("k") with a constant key.
func metaCall(n ast.Node) (string, bool) {
	call, ok := n.(*ast.CallNode)
	if !ok || len(call.Arguments) != 1 {
		return "", false
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok || id.Value != "meta" {
		return "", false
	}
	s, ok := call.Arguments[0].(*ast.StringNode)
	if !ok {
		return "", false
	}
	return s.Value, true
}
