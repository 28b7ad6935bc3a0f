package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/outputs/elasticsearch/estest"
	"github.com/mdrsflow/mdrsflow/runtime/dlq"
	"github.com/mdrsflow/mdrsflow/runtime/host"
)

// An operator's night: a run dead-letters the events the cluster's mapping
// refuses; `dlq list` says which and why; a replay against the same
// cluster refuses them again and keeps them; after the fix, a replay
// delivers them to the same target with the same ids and empties the
// queue.
func TestDLQListAndReplay(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i := 0; i < 40; i++ {
		lines = append(lines, fmt.Sprintf(`{"n":%d,"@timestamp":"2024-05-01T12:00:00Z",`+
			`"data_stream":{"type":"logs","dataset":"test"}}`, i))
	}
	writeTestFile(t, filepath.Join(dir, "events.log"), strings.Join(lines, "\n")+"\n")
	writeTestFile(t, filepath.Join(dir, "site.yaml"), `
name: site
inputs:
  - file: {paths: ["events.log"], mode: read_once}
filters:
  - tenant: {static: acme}
outputs:
  - elasticsearch:
      hosts: ["${ES_URL}"]
`)
	refusing := estest.New(t)
	refusing.RejectMapping(func(d estest.Doc) bool {
		n, _ := d.Source["n"].(float64)
		return int(n)%10 == 3
	})
	env := []string{"ES_URL=" + refusing.URL}

	out, errOut, err := mdrsflow(t, dir, env, "run", "--in-process", "--data-dir", "data",
		"site.yaml")
	if err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, out, errOut)
	}
	if !strings.Contains(errOut, "dead-lettered: 4") || refusing.Count() != 36 {
		t.Fatalf("run stored %d:\n%s", refusing.Count(), errOut)
	}

	out, errOut, err = mdrsflow(t, dir, env, "dlq", "list", "--data-dir", "data")
	if err != nil {
		t.Fatalf("dlq list: %v\n%s", err, errOut)
	}
	t.Logf("dlq list:\n%s", out)
	for _, want := range []string{"flow site: 4 dead letters in 1 files",
		"4       elasticsearch#1  logs-test-acme  mapper_parsing_exception: failed to parse " +
			"field in document with id '…'"} {
		if !strings.Contains(out, want) {
			t.Errorf("dlq list does not say %q:\n%s", want, out)
		}
	}
	letters := readLetters(t, host.DeadLetterDir(filepath.Join(dir, "data"), "site"))

	out, errOut, err = mdrsflow(t, dir, env, "dlq", "replay", "--data-dir", "data", "site.yaml")
	t.Logf("replay against the refusing cluster:\n%s", out)
	if err == nil || !strings.Contains(out, "0 delivered and removed, 4 refused again") {
		t.Errorf("replay against the refusing cluster: %v\n%s", err, out)
	}
	// The command it suggests must find the same queue when copied.
	if !strings.Contains(errOut, "`mdrsflow dlq list --data-dir data site.yaml` shows why") {
		t.Errorf("the refused replay's hint does not name the data folder:\n%s", errOut)
	}
	if again := readLetters(t, host.DeadLetterDir(filepath.Join(dir, "data"), "site")); len(again) != 4 ||
		again[0].Replays != 1 {
		t.Errorf("after a refused replay: %+v", again)
	}

	fixed := estest.New(t)
	env = []string{"ES_URL=" + fixed.URL}
	out, errOut, err = mdrsflow(t, dir, env, "dlq", "replay", "--data-dir", "data", "site.yaml")
	if err != nil || !strings.Contains(out, "4 delivered and removed, 0 refused again") {
		t.Fatalf("replay after the fix: %v\n%s\n%s", err, out, errOut)
	}
	docs := fixed.Docs("logs-test-acme")
	if len(docs) != 4 {
		t.Fatalf("fixed cluster holds %d docs, want 4", len(docs))
	}
	for i, d := range docs {
		if d.ID != letters[i].ID || fmt.Sprint(d.Source["n"]) != fmt.Sprint(10*i+3) {
			t.Errorf("replayed doc %d: id %s n %v, want id %s n %d", i, d.ID, d.Source["n"],
				letters[i].ID, 10*i+3)
		}
	}
	out, _, _ = mdrsflow(t, dir, env, "dlq", "list", "--data-dir", "data", "site")
	if !strings.Contains(out, "flow site: no dead letters") {
		t.Errorf("dlq list after the replay:\n%s", out)
	}
}

func writeTestFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readLetters(t *testing.T, dir string) []dlq.Letter {
	t.Helper()
	files, err := dlq.Files(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []dlq.Letter
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var l dlq.Letter
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				t.Fatal(err)
			}
			out = append(out, l)
		}
	}
	return out
}

func TestShellWord(t *testing.T) {
	for in, want := range map[string]string{
		"data":              "data",
		"/var/lib/mdrsflow": "/var/lib/mdrsflow",
		"my data":           "'my data'",
		"it's":              `'it'\''s'`,
		"":                  "''",
	} {
		if got := shellWord(in); got != want {
			t.Errorf("shellWord(%q) = %s, want %s", in, got, want)
		}
	}
}
