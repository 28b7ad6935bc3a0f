package lowercase

import (
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
)

func TestLowercase(t *testing.T) {
	const flow = "filters:\n  - lowercase:\n      fields: [proto, '\"dns.query\"', dns.answers, host.name]\n"

	filtertest.Run(t, []filtertest.Case{
		{
			Name: "text, flat dotted key and array",
			Flow: flow,
			In:   `{"dns":{"answers":["A.example",null,"b"]},"dns.query":"WWW.Example.COM","proto":"TCP"}`,
			Want: `{"dns":{"answers":["a.example",null,"b"],"query":"www.example.com"},"proto":"tcp"}`,
		},
		{
			Name: "quoted reference does not match a nested object",
			Flow: flow,
			In:   `{"dns":{"query":"WWW"}}`,
			Want: `{"dns":{"query":"WWW"}}`,
		},
		{
			Name: "unicode",
			Flow: flow,
			In:   `{"host":{"name":"ÄRGER-PC"}}`,
			Want: `{"host":{"name":"ärger-pc"}}`,
		},
		{
			Name: "missing and null fields are skipped",
			Flow: flow,
			In:   `{"host":{"name":null}}`,
			Want: `{"host":{"name":null}}`,
		},
		{
			Name: "number fails naming the field",
			Flow: flow,
			In:   `{"proto":6}`,
			Err:  `cannot lower-case field proto: it holds a number (6), not text`,
		},
		{
			Name: "array with a number fails and is left as it was",
			Flow: flow + "    on_error: tag\n",
			In:   `{"dns":{"answers":["A",1]}}`,
			Want: `{"dns":{"answers":["A",1]},"tags":["_lowercase_failure"]}`,
		},
		{
			Name: "array with an object fails naming the element",
			Flow: flow,
			In:   `{"dns":{"answers":["A",{"x":1}]}}`,
			Err:  `cannot lower-case field dns.answers: element 1 is an object ({"x":1}), not text`,
		},
		{
			Name: "if condition",
			Flow: flow + "    if: 'proto != \"KEEP\"'\n",
			In:   `{"proto":"KEEP"}`,
			Want: `{"proto":"KEEP"}`,
		},
	})
}

func TestLowercaseBadSettings(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"no fields", "filters:\n  - lowercase: {}\n", "fields: name at least one field"},
		{"bad reference", "filters:\n  - lowercase:\n      fields: ['.a']\n", "empty segment"},
	})
}

func TestLowercaseDocs(t *testing.T) { filtertest.CheckDocs(t, "lowercase") }
