package user_agent

import (
	"fmt"
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
)

func TestUserAgent(t *testing.T) {
	filtertest.Run(t, []filtertest.Case{
		{
			Name: "a browser on an operating system",
			Flow: "filters:\n  - user_agent: {}\n",
			In: `{"user_agent":{"original":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 ` +
				`(KHTML, like Gecko) Chrome/120.0.1.2 Safari/537.36"}}`,
			Want: `{"user_agent":{"device":{"name":"Other"},"name":"Chrome",` +
				`"original":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.1.2 Safari/537.36",` +
				`"os":{"full":"Windows 10","name":"Windows","version":"10"},"version":"120.0.1.2"}}`,
		},
		{
			Name: "a tool without an operating system",
			Flow: "filters:\n  - user_agent: {field: ua, target: client.agent}\n",
			In:   `{"ua":"curl/7.64.1"}`,
			Want: `{"client":{"agent":{"device":{"name":"Other"},"name":"curl","version":"7.64.1"}},"ua":"curl/7.64.1"}`,
		},
		{
			Name: "unknown agent",
			Flow: "filters:\n  - user_agent: {field: ua, target: x}\n",
			In:   `{"ua":"Modzilla/-2.0 (Atari 7800)"}`,
			Want: `{"ua":"Modzilla/-2.0 (Atari 7800)","x":{"device":{"name":"Other"},"name":"Other"}}`,
		},
		{
			Name: "empty writes nothing",
			Flow: "filters:\n  - user_agent: {field: ua, target: x}\n",
			In:   `{"ua":""}`,
			Want: `{"ua":""}`,
		},
		{
			Name: "not text",
			Flow: "filters:\n  - user_agent: {field: ua, target: x}\n",
			In:   `{"ua":["a"]}`,
			Err:  "holds an array, not a User-Agent header",
		},
	})
}

func TestBadConfig(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"bad field", "filters:\n  - user_agent: {field: 'a..b'}\n", "field:"},
		{"bad target", "filters:\n  - user_agent: {target: ''}\n", "target: empty"},
	})
}

func TestDocs(t *testing.T) { filtertest.CheckDocs(t, "user_agent") }

// A write that fails part way leaves the same fields every time: the
// fields are written in a fixed order (name, version, os.*, device.name),
// not in a map's order. Run many times, since map order varies by run.
func TestFailedWriteIsTheSameEveryTime(t *testing.T) {
	var cases []filtertest.Case
	for i := range 20 {
		cases = append(cases, filtertest.Case{
			Name: fmt.Sprintf("run %d", i+1),
			Flow: "filters:\n  - user_agent: {field: ua}\n    on_error: tag\n",
			In:   `{"ua":"curl/7.64.1","user_agent":{"os":"x","device":"y"}}`,
			Want: `{"tags":["_user_agent_failure"],"ua":"curl/7.64.1","user_agent":{"device":"y","name":"curl","os":"x","version":"7.64.1"}}`,
		})
	}
	filtertest.Run(t, cases)
}
