package stdout

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/sdk"
	"github.com/mdrsflow/mdrsflow/sdk/plugintest"
)

// build makes the output the way the engine does: registry and YAML.
func build(t *testing.T, settings string) *Stdout {
	t.Helper()
	reg, ok := sdk.Lookup(sdk.KindOutput, "stdout")
	if !ok {
		t.Fatal("stdout output is not registered")
	}
	p := reg.New()
	if err := sdk.DecodeSettingsText([]byte(settings), p); err != nil {
		t.Fatalf("decode settings: %v", err)
	}
	return p.(*Stdout)
}

func rec(target, data string) sdk.Record {
	r := sdk.Record{Data: []byte(data)}
	if target != "" {
		r.Routes = []sdk.Route{{Output: 0, Target: target}}
	}
	return r
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name     string
		settings string
		recs     []sdk.Record
		want     []string // "delivered" or the Rejected reason
		out      string
	}{{
		name: "events only",
		recs: []sdk.Record{rec("a", `{"a":1}`), rec("", `{"b":2}`)},
		want: []string{"delivered", "delivered"},
		out:  "{\"a\":1}\n{\"b\":2}\n",
	}, {
		name:     "with target",
		settings: "with_target: true\n",
		recs:     []sdk.Record{rec("logs-zeek.conn-acme", `{"a":1}`), rec(`q"t`, `{}`)},
		want:     []string{"delivered", "delivered"},
		out: "{\"target\":\"logs-zeek.conn-acme\",\"event\":{\"a\":1}}\n" +
			"{\"target\":\"q\\\"t\",\"event\":{}}\n",
	}, {
		name:     "with target but no route",
		settings: "with_target: true\n",
		recs:     []sdk.Record{rec("", `{"a":1}`), rec("t", `{"b":1}`)},
		want:     []string{"no target: the record has no route to this output", "delivered"},
		out:      "{\"target\":\"t\",\"event\":{\"b\":1}}\n",
	}, {
		name: "multi-line events are compacted, bad ones rejected",
		recs: []sdk.Record{rec("", "{\n \"a\": 1\n}"), rec("", "{\n"), rec("", "")},
		want: []string{"delivered", "event is not valid JSON: unexpected end of JSON input",
			"event is empty"},
		out: "{\"a\":1}\n",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := build(t, tc.settings)
			var out bytes.Buffer
			s.Out = &out

			res := s.Write(context.Background(), tc.recs)

			for i, r := range res {
				got := r.Reason
				if r.Status == sdk.Delivered {
					got = "delivered"
				}
				if got != tc.want[i] {
					t.Errorf("record %d: got %v %q, want %q", i, r.Status, r.Reason, tc.want[i])
				}
			}
			if out.String() != tc.out {
				t.Errorf("output:\n%s\nwant:\n%s", out.String(), tc.out)
			}
		})
	}
}

// brokenWriter takes n bytes and then fails.
type brokenWriter struct {
	bytes.Buffer
	n int
}

var errBroken = errors.New("broken pipe")

func (w *brokenWriter) Write(p []byte) (int, error) {
	if len(p) <= w.n {
		w.n -= len(p)
		return w.Buffer.Write(p)
	}
	k := w.n
	w.n = 0
	w.Buffer.Write(p[:k])
	return k, errBroken
}

func TestPartialWrite(t *testing.T) {
	s := build(t, "")
	w := &brokenWriter{n: 12} // "{\"a\":1}\n" is 8 bytes; the second line breaks
	s.Out = w

	res := s.Write(context.Background(),
		[]sdk.Record{rec("", `{"a":1}`), rec("", `{"b":2}`), rec("", `{"c":3}`)})

	want := []sdk.Status{sdk.Delivered, sdk.Retry, sdk.Retry}
	for i, r := range res {
		if r.Status != want[i] {
			t.Errorf("record %d: %v, want %v", i, r.Status, want[i])
		}
		if r.Status == sdk.Retry && r.Reason != "stdout: broken pipe" {
			t.Errorf("record %d: reason %q", i, r.Reason)
		}
	}
}

func TestCancelled(t *testing.T) {
	s := build(t, "")
	var out bytes.Buffer
	s.Out = &out
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	res := s.Write(ctx, []sdk.Record{rec("", `{}`)})

	if res[0].Status != sdk.Retry || out.Len() != 0 {
		t.Errorf("%v %q, wrote %q", res[0].Status, res[0].Reason, out.String())
	}
}

func TestUnknownSetting(t *testing.T) {
	err := sdk.DecodeSettingsText([]byte("target: true\n"), New())
	if err == nil || !strings.Contains(err.Error(), `unknown setting "target"`) {
		t.Errorf("got %v", err)
	}
}

// TestSample holds the plugin to the contract every plugin passes.
func TestSample(t *testing.T) {
	plugintest.Contract(t, sdk.KindOutput, "stdout", ".")
}
