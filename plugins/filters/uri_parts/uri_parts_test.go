package uri_parts

import (
	"reflect"
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name, in string
		want     map[string]any
	}{
		{"relative with query", "/a/b.php?x=1&y=%41",
			map[string]any{"path": "/a/b.php", "extension": "php", "query": "x=1&y=A"}},
		{"decoded path and fragment", "/a%20b/c#t%21op",
			map[string]any{"path": "/a b/c", "fragment": "t!op"}},
		{"extension of the last segment only", "/www.example.com/download",
			map[string]any{"path": "/www.example.com/download"}},
		{"absolute with user and port", "https://u:p%40ss@Example.com:8443/x.tar.gz?q",
			map[string]any{"scheme": "https", "domain": "Example.com", "port": int64(8443), "path": "/x.tar.gz",
				"extension": "gz", "query": "q", "user_info": "u:p@ss", "username": "u", "password": "p@ss"}},
		{"empty path", "http://example.com",
			map[string]any{"scheme": "http", "domain": "example.com", "path": ""}},
		{"IPv6 host", "http://[2001:db8::1]:80/",
			map[string]any{"scheme": "http", "domain": "2001:db8::1", "port": int64(80), "path": "/"}},
		{"opaque CONNECT target", "www.example.com:443",
			map[string]any{"scheme": "www.example.com"}},
		{"no scheme", "example.com/path/file.exe",
			map[string]any{"path": "example.com/path/file.exe", "extension": "exe"}},
		{"non-ASCII allowed", "/café",
			map[string]any{"path": "/café"}},
		{"lenient absolute URL keeps what it cannot decode", "http://example.com/a b|c?q=%zz",
			map[string]any{"scheme": "http", "domain": "example.com", "path": "/a b|c", "query": "q=%zz"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%q)\n got %v\nwant %v", tc.in, got, tc.want)
			}
		})
	}
	for _, bad := range []string{"/a b", "/a%zz", "/a#b#c", "/{x}", "", "/a\x00"} {
		if got, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", bad, got)
		}
	}
}

func TestURIParts(t *testing.T) {
	filtertest.Run(t, []filtertest.Case{
		{
			Name: "defaults keep the original",
			Flow: "filters:\n  - uri_parts: {field: request}\n",
			In:   `{"request":"/cgi-bin/a%20b.php?x=1#top"}`,
			Want: `{"request":"/cgi-bin/a%20b.php?x=1#top","url":{"extension":"php","fragment":"top",` +
				`"original":"/cgi-bin/a%20b.php?x=1#top","path":"/cgi-bin/a b.php","query":"x=1"}}`,
		},
		{
			Name: "own target, no original, field removed",
			Flow: "filters:\n  - uri_parts: {field: u, target: threat.indicator.url, keep_original: false, remove_if_successful: true}\n",
			In:   `{"u":"http://evil.example:8080/x"}`,
			Want: `{"threat":{"indicator":{"url":{"domain":"evil.example","path":"/x","port":8080,"scheme":"http"}}}}`,
		},
		{
			Name: "missing is skipped",
			Flow: "filters:\n  - uri_parts: {field: u}\n",
			In:   `{"a":1}`,
			Want: `{"a":1}`,
		},
		{
			Name: "not a URI",
			Flow: "filters:\n  - uri_parts: {field: u}\n",
			In:   `{"u":"/a b"}`,
			Err:  `field u: "/a b" is not a URI`,
		},
		{
			Name: "not text",
			Flow: "filters:\n  - uri_parts: {field: u}\n",
			In:   `{"u":5}`,
			Err:  "holds a number, not a URI",
		},
	})
}

func TestBadConfig(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"no field", "filters:\n  - uri_parts: {}\n", "field: empty field reference"},
		{"bad target", "filters:\n  - uri_parts: {field: u, target: 'a..b'}\n", "target:"},
	})
}

func TestDocs(t *testing.T) { filtertest.CheckDocs(t, "uri_parts") }
