package wire

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// topLevelKeys decodes one JSON object and returns how often each of its
// top-level keys occurs and the last value of each. A map alone would hide
// a key written twice.
func topLevelKeys(t *testing.T, line []byte) (map[string]int, map[string]any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object (%v, %v): %s", tok, err, line)
	}
	counts, values := map[string]int{}, map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("decode %s: %v", line, err)
		}
		k, ok := tok.(string)
		if !ok {
			t.Fatalf("key %v is not a string: %s", tok, line)
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("decode value of %q in %s: %v", k, line, err)
		}
		counts[k]++
		values[k] = v
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		t.Fatalf("object not closed (%v, %v): %s", tok, err, line)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("more than one JSON value: %s", line)
	}
	return counts, values
}

// A plugin's log line re-emitted by the host: the host's logger already
// carries flow, plugin and kind (runtime/host adds them with With before
// wire.Launch), so the plugin's own flow, plugin and kind are dropped, as
// are its timestamp keys (slog writes its own time); every other key of
// the plugin's line passes through.
func TestHCLoggerDropsKeysTheHostAlreadyHas(t *testing.T) {
	var buf bytes.Buffer
	host := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// As runtime/host builds it: the runner's logger, then the part's.
	logger := host.With("flow", "hostflow").With("plugin", "hostplugin", "kind", "filter")

	// As go-plugin's logStderr does for a JSON line of the plugin's stderr:
	// a logger named after the executable, the line's keys as arguments
	// and the parsed timestamp appended as "timestamp".
	l := newHCLogger(logger).Named("mdrsflow")
	l.Warn("from the plugin",
		"flow", "pluginflow",
		"plugin", "pluginplugin",
		"extra", "kept",
		"kind", "input",
		"@timestamp", "2024-05-01T12:00:00.000000Z",
		"count", 3.0,
		"timestamp", "2024-05-01T12:00:00.000Z")

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte{'\n'})
	if len(lines) != 1 {
		t.Fatalf("%d lines written, want 1:\n%s", len(lines), buf.String())
	}
	counts, values := topLevelKeys(t, lines[0])

	for _, k := range []string{"time", "level", "msg", "flow", "plugin", "kind", "extra", "count"} {
		if counts[k] != 1 {
			t.Errorf("key %q occurs %d times, want once:\n%s", k, counts[k], lines[0])
		}
	}
	for k, want := range map[string]any{
		"flow":   "hostflow",
		"plugin": "hostplugin",
		"kind":   "filter",
		"extra":  "kept",
		"count":  3.0,
		"msg":    "from the plugin",
		"level":  "WARN",
	} {
		if values[k] != want {
			t.Errorf("%s = %v, want %v:\n%s", k, values[k], want, lines[0])
		}
	}
	for _, k := range []string{"timestamp", "@timestamp"} {
		if counts[k] != 0 {
			t.Errorf("the plugin's %q is written (%d times), slog's time is enough:\n%s", k, counts[k], lines[0])
		}
	}
	for k := range counts {
		switch k {
		case "time", "level", "msg", "flow", "plugin", "kind", "extra", "count":
		default:
			t.Errorf("unexpected key %q:\n%s", k, lines[0])
		}
	}
	if strings.Contains(buf.String(), "pluginflow") || strings.Contains(buf.String(), "pluginplugin") {
		t.Errorf("the plugin's own flow or plugin value is in the line:\n%s", lines[0])
	}
}

// go-plugin's own lines about the process name it with "plugin" (its
// path); the host's plugin id stays the one value of that key, and the
// line stays at Debug.
func TestHCLoggerGoPluginLineKeepsHostPlugin(t *testing.T) {
	var buf bytes.Buffer
	host := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := newHCLogger(host.With("flow", "hostflow").With("plugin", "hostplugin", "kind", "output"))
	l.Info("plugin process exited", "plugin", "/usr/bin/mdrsflow", "id", 42)

	counts, values := topLevelKeys(t, bytes.TrimSpace(buf.Bytes()))
	for _, k := range []string{"flow", "plugin", "kind", "id"} {
		if counts[k] != 1 {
			t.Errorf("key %q occurs %d times, want once:\n%s", k, counts[k], buf.String())
		}
	}
	if values["plugin"] != "hostplugin" || values["id"] != 42.0 || values["level"] != "DEBUG" {
		t.Errorf("plugin = %v, id = %v, level = %v; want hostplugin, 42, DEBUG:\n%s",
			values["plugin"], values["id"], values["level"], buf.String())
	}
}

// go-plugin hands over a plugin line's fields from a map, in any order;
// they are written sorted, so every line of a kind reads alike.
func TestHCLoggerSortsAPluginLinesFields(t *testing.T) {
	var buf bytes.Buffer
	l := newHCLogger(slog.New(slog.NewTextHandler(&buf, nil))).Named("mdrsflow")
	l.Info("reading", "path", "a.log", "offset", 0.0, "gzip", false, "line", 7.0)
	l.Info("reading", "line", 7.0, "gzip", false, "offset", 0.0, "path", "a.log")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.String())
	}
	for _, line := range lines {
		_, fields, _ := strings.Cut(line, `msg=reading `)
		if fields != "gzip=false line=7 offset=0 path=a.log" {
			t.Errorf("fields %q, want them sorted by key", fields)
		}
	}
}
