package chain

import (
	"fmt"

	"github.com/mdrsflow/mdrsflow/runtime/flow"
)

// StepsFromFlow turns a flow's filter entries into step specs. It fails on
// an external filter, which cannot run inside a chain.
func StepsFromFlow(steps []flow.Step) ([]StepSpec, error) {
	out := make([]StepSpec, 0, len(steps))
	for _, s := range steps {
		if s.Guard {
			out = append(out, StepSpec{Name: "", ID: s.ID, Where: s.Pos.String(), If: s.If, Skip: s.Skip})
			continue
		}
		if s.External != nil {
			return nil, fmt.Errorf("%s: %s is an external plugin and cannot be fused into a chain", s.Pos, s.ID)
		}
		text, err := s.SettingsText()
		if err != nil {
			return nil, err
		}
		out = append(out, StepSpec{
			Name: s.Name, ID: s.ID, Where: s.Pos.String(),
			If: s.If, OnError: s.OnError, Settings: text,
		})
	}
	return out, nil
}

// RouterFromFlow builds the router spec for a flow's outputs, with the
// flow's routing templates as defaults.
func RouterFromFlow(f *flow.Flow) *RouterSpec {
	r := &RouterSpec{}
	for _, o := range f.Outputs {
		rt := o.Routing
		if rt.Target == "" {
			rt.Target = f.Routing.Target
		}
		if rt.Failures == "" {
			rt.Failures = f.Routing.Failures
		}
		if rt.Quarantine == "" {
			rt.Quarantine = f.Routing.Quarantine
		}
		r.Outputs = append(r.Outputs, RouteSpec{
			ID: o.ID, When: o.When,
			Target: rt.Target, Failures: rt.Failures, Quarantine: rt.Quarantine,
		})
	}
	return r
}

// SpecFromFlow is the spec of a flow whose filters are all built in: one
// chain with the router, as `mdrsflow pipe` and tests run it.
func SpecFromFlow(f *flow.Flow) (Spec, error) {
	steps, err := StepsFromFlow(f.Filters)
	if err != nil {
		return Spec{}, err
	}
	return Spec{Flow: f.Name, Steps: steps, Router: RouterFromFlow(f)}, nil
}
