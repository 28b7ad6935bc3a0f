package sdk

import (
	"fmt"
	"sort"
	"sync"
)

// Kind is the role of a plugin in a flow.
type Kind string

// The plugin kinds.
const (
	KindInput  Kind = "input"
	KindFilter Kind = "filter"
	KindOutput Kind = "output"
)

// Registration describes one built-in plugin.
type Registration struct {
	Kind Kind
	Name string
	// Summary is one line for `mdrsflow plugins`.
	Summary string
	// New returns a new instance with its defaults set. The instance
	// implements Input, Filter or Output according to Kind; its exported
	// fields with yaml tags are its settings.
	New func() any
	// Sample is the plugin's sample.yaml: a commented example of its
	// settings, checked by the plugin contract test.
	Sample []byte
}

var (
	regMu sync.RWMutex
	reg   = map[Kind]map[string]Registration{}
)

// Register adds a built-in plugin. It is called from init functions and
// panics on a duplicate or incomplete registration, which is a programming
// error.
func Register(r Registration) {
	if r.Name == "" || r.New == nil {
		panic(fmt.Sprintf("sdk.Register: %s plugin %q has no name or constructor", r.Kind, r.Name))
	}
	switch r.Kind {
	case KindInput, KindFilter, KindOutput:
	default:
		panic(fmt.Sprintf("sdk.Register: plugin %q has unknown kind %q", r.Name, r.Kind))
	}
	regMu.Lock()
	defer regMu.Unlock()
	if reg[r.Kind] == nil {
		reg[r.Kind] = map[string]Registration{}
	}
	if _, dup := reg[r.Kind][r.Name]; dup {
		panic(fmt.Sprintf("sdk.Register: %s plugin %q registered twice", r.Kind, r.Name))
	}
	reg[r.Kind][r.Name] = r
}

// Lookup returns the registration of a built-in plugin.
func Lookup(kind Kind, name string) (Registration, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	r, ok := reg[kind][name]
	return r, ok
}

// Registered returns every built-in plugin of a kind, sorted by name.
func Registered(kind Kind) []Registration {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]Registration, 0, len(reg[kind]))
	for _, r := range reg[kind] {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
