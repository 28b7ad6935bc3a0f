package domain

import (
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
)

func TestDomain(t *testing.T) {
	const ps = "filters:\n  - domain:\n      field: q\n      target: d\n      mode: public_suffix\n"
	const naive = "filters:\n  - domain:\n      field: q\n      target: d\n      mode: naive\n"

	filtertest.Run(t, []filtertest.Case{
		// public_suffix
		{Name: "ps: multi-label suffix", Flow: ps, In: `{"q":"www.example.co.uk"}`,
			Want: `{"d":{"registered_domain":"example.co.uk","subdomain":"www","top_level_domain":"co.uk"},"q":"www.example.co.uk"}`},
		{Name: "ps: two labels, no subdomain", Flow: ps, In: `{"q":"example.com"}`,
			Want: `{"d":{"registered_domain":"example.com","top_level_domain":"com"},"q":"example.com"}`},
		{Name: "ps: deep subdomain, capitals and trailing dot", Flow: ps, In: `{"q":"A.B.Example.COM."}`,
			Want: `{"d":{"registered_domain":"example.com","subdomain":"a.b","top_level_domain":"com"},"q":"A.B.Example.COM."}`},
		{Name: "ps: private rule", Flow: ps, In: `{"q":"foo.blogspot.com"}`,
			Want: `{"d":{"registered_domain":"foo.blogspot.com","top_level_domain":"blogspot.com"},"q":"foo.blogspot.com"}`},
		{Name: "ps: exception rule", Flow: ps, In: `{"q":"www.city.kawasaki.jp"}`,
			Want: `{"d":{"registered_domain":"city.kawasaki.jp","subdomain":"www","top_level_domain":"kawasaki.jp"},"q":"www.city.kawasaki.jp"}`},
		{Name: "ps: a suffix alone", Flow: ps, In: `{"q":"co.uk"}`, Want: `{"d":{"top_level_domain":"co.uk"},"q":"co.uk"}`},
		{Name: "ps: unknown suffix writes nothing", Flow: ps, In: `{"q":"host.corp.internal"}`, Want: `{"q":"host.corp.internal"}`},
		{Name: "ps: single label unknown", Flow: ps, In: `{"q":"localhost"}`, Want: `{"q":"localhost"}`},

		// naive
		{Name: "naive: multi-label suffix split at the last dots", Flow: naive, In: `{"q":"www.example.co.uk"}`,
			Want: `{"d":{"parent_domain":"co","registered_domain":"co.uk","subdomain":"www.example","top_level_domain":"uk"},"q":"www.example.co.uk"}`},
		{Name: "naive: three labels", Flow: naive, In: `{"q":"www.Example.com."}`,
			Want: `{"d":{"parent_domain":"Example","registered_domain":"Example.com","subdomain":"www","top_level_domain":"com"},"q":"www.Example.com."}`},
		{Name: "naive: two labels, no subdomain", Flow: naive, In: `{"q":"example.com"}`,
			Want: `{"d":{"parent_domain":"example","registered_domain":"example.com","top_level_domain":"com"},"q":"example.com"}`},
		{Name: "naive: no dot, only the top-level domain", Flow: naive, In: `{"q":"localhost"}`,
			Want: `{"d":{"top_level_domain":"localhost"},"q":"localhost"}`},
		{Name: "naive: unknown suffix split anyway", Flow: naive, In: `{"q":"host.corp.internal"}`,
			Want: `{"d":{"parent_domain":"corp","registered_domain":"corp.internal","subdomain":"host","top_level_domain":"internal"},"q":"host.corp.internal"}`},

		// nothing written
		{Name: "IPv4 address", Flow: ps, In: `{"q":"10.0.0.1"}`, Want: `{"q":"10.0.0.1"}`},
		{Name: "IPv6 address", Flow: naive, In: `{"q":"2001:db8::1"}`, Want: `{"q":"2001:db8::1"}`},
		{Name: "bracketed IPv6 address", Flow: naive, In: `{"q":"[2001:db8::1]"}`, Want: `{"q":"[2001:db8::1]"}`},
		{Name: "empty string", Flow: naive, In: `{"q":""}`, Want: `{"q":""}`},
		{Name: "just a dot", Flow: naive, In: `{"q":"."}`, Want: `{"q":"."}`},
		{Name: "empty label", Flow: naive, In: `{"q":"a..com"}`, Want: `{"q":"a..com"}`},
		{Name: "leading dot", Flow: ps, In: `{"q":".example.com"}`, Want: `{"q":".example.com"}`},
		{Name: "missing field", Flow: ps, In: `{"x":1}`, Want: `{"x":1}`},
		{Name: "null field", Flow: ps, In: `{"q":null}`, Want: `{"q":null}`},

		// paths, errors, engine keys
		{Name: "flat dotted key and existing target object", Flow: "filters:\n  - domain:\n      field: '\"dns.query\"'\n      target: dns.question\n      mode: public_suffix\n",
			In:   `{"dns":{"question":{"name":"x"}},"dns.query":"www.example.com"}`,
			Want: `{"dns":{"query":"www.example.com","question":{"name":"x","registered_domain":"example.com","subdomain":"www","top_level_domain":"com"}}}`},
		{Name: "quoted reference does not match a nested object", Flow: "filters:\n  - domain:\n      field: '\"dns.query\"'\n      target: d\n      mode: naive\n",
			In: `{"dns":{"query":"example.com"}}`, Want: `{"dns":{"query":"example.com"}}`},
		{Name: "number fails naming the field", Flow: ps, In: `{"q":42}`,
			Err: `cannot split field q into domain parts: it holds a number (42), not a host name`},
		{Name: "conflict: target is a string", Flow: ps, In: `{"d":"x","q":"example.com"}`,
			Err: `cannot write field d.registered_domain: "d" already holds a string ("x"), not an object`},
		{Name: "number with on_error tag", Flow: ps + "    on_error: tag\n", In: `{"q":42}`,
			Want: `{"q":42,"tags":["_domain_failure"]}`},
		{Name: "if condition", Flow: ps + "    if: 'q != \"example.com\"'\n", In: `{"q":"example.com"}`, Want: `{"q":"example.com"}`},
	})
}

func TestDomainBadSettings(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"no field", "filters:\n  - domain: {target: d, mode: naive}\n", "field: name the field"},
		{"no target", "filters:\n  - domain: {field: q, mode: naive}\n", "target: name the object"},
		{"no mode", "filters:\n  - domain: {field: q, target: d}\n", `mode: "" is not naive`},
		{"unknown mode", "filters:\n  - domain: {field: q, target: d, mode: psl}\n", `mode: "psl" is not naive`},
		{"bad target", "filters:\n  - domain: {field: q, target: 'd.', mode: naive}\n", "target: field reference"},
	})
}

func TestDomainDocs(t *testing.T) { filtertest.CheckDocs(t, "domain") }
