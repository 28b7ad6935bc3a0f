package wire

import (
	"context"
	"crypto/sha256"
	"hash"
	"io"
	"log"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"
)

func sha256New() hash.Hash { return sha256.New() }

// hcLogger carries go-plugin's own log lines, and the JSON lines a plugin
// writes to stderr, into the host's slog logger. go-plugin's chatter
// about process start and stop is Debug; a plugin's lines keep their
// level.
type hcLogger struct {
	l    *slog.Logger
	name string
	args []any
}

func newHCLogger(l *slog.Logger) hclog.Logger {
	if l == nil {
		l = slog.Default()
	}
	return &hcLogger{l: l}
}

func toSlog(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace, hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (h *hcLogger) Log(level hclog.Level, msg string, args ...any) {
	lv := toSlog(level)
	if h.name == "" || h.name == "plugin" {
		// go-plugin's own lines ("starting plugin", "plugin exited").
		if lv < slog.LevelWarn {
			lv = slog.LevelDebug
		}
	}
	all := make([]any, 0, len(h.args)+len(args))
	for _, kv := range [][]any{h.args, sortedPairs(args)} {
		for i := 0; i+1 < len(kv); i += 2 {
			k, _ := kv[i].(string)
			switch k {
			case "flow", "plugin", "kind":
				// The host's logger already carries them.
				continue
			case "timestamp", "@timestamp":
				// A plugin's JSON line has its own; slog adds ours.
				continue
			}
			all = append(all, kv[i], wholeNumber(kv[i+1]))
		}
	}
	h.l.Log(context.Background(), lv, msg, all...)
}

// sortedPairs returns key-value args sorted by key. go-plugin reads a
// plugin's JSON log line into a map, so the fields would come out in a
// different order on every line.
func sortedPairs(args []any) []any {
	type pair struct {
		k string
		v any
	}
	ps := make([]pair, 0, len(args)/2)
	for i := 0; i+1 < len(args); i += 2 {
		k, _ := args[i].(string)
		ps = append(ps, pair{k, args[i+1]})
	}
	slices.SortStableFunc(ps, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	out := make([]any, 0, 2*len(ps))
	for _, p := range ps {
		out = append(out, p.k, p.v)
	}
	return out
}

// wholeNumber gives back as an integer a number that crossed from the
// plugin as a JSON float but is whole (an offset, a count), so that it is
// logged as 43570816, not 4.3570816e+07.
func wholeNumber(v any) any {
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return v
	}
	return int64(f)
}

func (h *hcLogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hcLogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hcLogger) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hcLogger) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hcLogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }
func (h *hcLogger) IsTrace() bool                 { return false }
func (h *hcLogger) IsDebug() bool                 { return h.l.Enabled(context.Background(), slog.LevelDebug) }
func (h *hcLogger) IsInfo() bool                  { return h.l.Enabled(context.Background(), slog.LevelInfo) }
func (h *hcLogger) IsWarn() bool                  { return true }
func (h *hcLogger) IsError() bool                 { return true }
func (h *hcLogger) ImpliedArgs() []any            { return h.args }
func (h *hcLogger) Name() string                  { return h.name }
func (h *hcLogger) SetLevel(hclog.Level)          {}
func (h *hcLogger) GetLevel() hclog.Level         { return hclog.Debug }

func (h *hcLogger) With(args ...any) hclog.Logger {
	return &hcLogger{l: h.l, name: h.name, args: append(append([]any{}, h.args...), args...)}
}

func (h *hcLogger) Named(name string) hclog.Logger {
	n := name
	if h.name != "" {
		n = h.name + "." + name
	}
	return &hcLogger{l: h.l, name: n, args: h.args}
}

func (h *hcLogger) ResetNamed(name string) hclog.Logger {
	return &hcLogger{l: h.l, name: name, args: h.args}
}

func (h *hcLogger) StandardLogger(*hclog.StandardLoggerOptions) *log.Logger {
	return slog.NewLogLogger(h.l.Handler(), slog.LevelInfo)
}

func (h *hcLogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer { return os.Stderr }

// PluginLogger is the logger a plugin process uses: JSON lines on stderr
// in the shape go-plugin parses (@level, @message, @timestamp), so the
// host re-emits them as its own structured lines.
func PluginLogger(level slog.Level) *slog.Logger {
	h := slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.LevelKey:
				return slog.String("@level", lowerLevel(a.Value.Any()))
			case slog.MessageKey:
				a.Key = "@message"
			case slog.TimeKey:
				// The one layout go-plugin's parser accepts.
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			}
			return a
		},
	})
	return slog.New(h)
}

func lowerLevel(v any) string {
	if l, ok := v.(slog.Level); ok {
		switch {
		case l >= slog.LevelError:
			return "error"
		case l >= slog.LevelWarn:
			return "warn"
		case l >= slog.LevelInfo:
			return "info"
		}
		return "debug"
	}
	return "info"
}
