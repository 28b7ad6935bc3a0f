package dlq

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdrsflow/mdrsflow/sdk"
)

func rec(i int, target string) sdk.Record {
	return sdk.Record{
		Data:   []byte(fmt.Sprintf(`{"n":%d,"source":{"ip":"not-an-ip-%d"}}`, i, i)),
		ID:     fmt.Sprintf("id-%d", i),
		Tenant: "acme", Source: fmt.Sprintf("conn.log:%d", i), Path: "conn",
		Routes: []sdk.Route{{Output: 1, Target: target}},
	}
}

func letters(from, n int, target, reason string) []Letter {
	out := make([]Letter, n)
	for i := range out {
		why := reason
		if strings.Contains(reason, "%d") {
			why = fmt.Sprintf(reason, from+i)
		}
		out[i] = FromRecord(rec(from+i, target), "es", why,
			time.Date(2024, 5, 1, 12, 0, from+i, 0, time.UTC))
	}
	return out
}

const mappingReason = "mapper_parsing_exception: failed to parse field [source.ip] of type " +
	"[ip] in document with id 'id-%d'. Preview of field's value: 'not-an-ip'"

func TestLetterRoundTrip(t *testing.T) {
	r := rec(7, "logs-zeek.connection-acme")
	r.Error, r.Quarantine = "a step failed", ""
	l := FromRecord(r, "es", "why", time.Now())
	got := l.Record(1)
	if string(got.Data) != string(r.Data) || got.ID != r.ID || got.Tenant != r.Tenant ||
		got.Routes[0] != r.Routes[0] || got.Error != r.Error || got.Path != r.Path ||
		got.Source != r.Source {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
	}

	r.Data = []byte("not json {")
	l = FromRecord(r, "es", "why", time.Now())
	if l.Event != nil || l.EventRaw != "not json {" || string(l.Record(0).Data) != "not json {" {
		t.Errorf("non-JSON event: %+v", l)
	}
	r.Data = []byte("{\n  \"a\": 1\n}")
	if l = FromRecord(r, "es", "why", time.Now()); string(l.Event) != `{"a":1}` {
		t.Errorf("event spanning lines kept as %s", l.Event)
	}
}

func TestWriteAndSummarize(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dlq")
	w, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Open created %s before any letter", dir)
	}
	if err := w.Write(letters(0, 3, "logs-a", mappingReason)); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(letters(3, 2, "logs-b", "illegal_argument_exception: no")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Summarize(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Events != 5 || s.Files != 1 || s.Unreadable != 0 {
		t.Errorf("summary %+v", s)
	}
	want := []Count{
		{"es", "logs-a", "mapper_parsing_exception: failed to parse field [source.ip] of " +
			"type [ip] in document with id '…'", 3},
		{"es", "logs-b", "illegal_argument_exception: no", 2},
	}
	if fmt.Sprint(s.Counts) != fmt.Sprint(want) {
		t.Errorf("counts\n got %v\nwant %v", s.Counts, want)
	}
	if got := w.Stats(); got.Written != 5 || got.Files != 1 || got.Bytes == 0 {
		t.Errorf("stats %+v", got)
	}

	// A new writer (a restart) starts a new file and warns about the old.
	var logs bytes.Buffer
	w2, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "dead-letter queue holds events from earlier runs") {
		t.Errorf("no warning about leftovers: %s", logs.String())
	}
	if err := w2.Write(letters(5, 1, "logs-a", mappingReason)); err != nil {
		t.Fatal(err)
	}
	w2.Close()
	if files, _ := Files(dir); len(files) != 2 {
		t.Errorf("files %v, want 2", files)
	}
}

func TestBoundDiscardsOldestFiles(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	const max = 4000
	w, err := Open(dir, Options{MaxBytes: max, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 0; i < 40; i++ {
		if err := w.Write(letters(i, 1, "logs-a", mappingReason)); err != nil {
			t.Fatal(err)
		}
		if st := w.Stats(); st.Bytes > max {
			t.Fatalf("after letter %d the queue holds %d bytes, bound %d", i, st.Bytes, max)
		}
	}
	st := w.Stats()
	if st.Discarded == 0 || st.DiscardedFiles == 0 || st.Written != 40 {
		t.Errorf("stats %+v", st)
	}
	s, err := Summarize(dir)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(s.Events)+st.Discarded != 40 {
		t.Errorf("%d kept + %d discarded, want 40", s.Events, st.Discarded)
	}
	if s.Bytes > max {
		t.Errorf("%d bytes on disk, bound %d", s.Bytes, max)
	}
	// The newest letters are the ones kept.
	if s.Newest.Second() != 39 {
		t.Errorf("newest letter from second %d, want 39", s.Newest.Second())
	}
	if n := strings.Count(logs.String(), `"level":"ERROR","msg":"dead-letter queue full`); n !=
		int(st.DiscardedFiles) {
		t.Errorf("%d error lines for %d discarded files", n, st.DiscardedFiles)
	}
}

// fakeOutput decides per letter: ids in reject are refused, ids in retry
// are asked to retry until retries run out, the rest are delivered.
type fakeOutput struct {
	mu      sync.Mutex
	reject  map[string]bool
	retry   map[string]int
	sent    map[string]int
	targets map[string]string
}

func (f *fakeOutput) send(_ context.Context, output string, ls []Letter) ([]sdk.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if output != "es" {
		return nil, fmt.Errorf("no output %s", output)
	}
	res := make([]sdk.Result, len(ls))
	for i, l := range ls {
		f.sent[l.ID]++
		f.targets[l.ID] = l.Target
		switch {
		case f.reject[l.ID]:
			res[i] = sdk.Result{Status: sdk.Rejected, Reason: "still wrong"}
		case f.retry[l.ID] != 0:
			f.retry[l.ID]--
			res[i] = sdk.Result{Status: sdk.Retry, Reason: "429"}
		}
	}
	return res, nil
}

func TestReplay(t *testing.T) {
	dir := t.TempDir()
	w, _ := Open(dir, Options{})
	ls := letters(0, 6, "logs-a", mappingReason)
	ls[5].Output = "gone"
	if err := w.Write(ls); err != nil {
		t.Fatal(err)
	}
	w.Close()
	f := &fakeOutput{reject: map[string]bool{"id-1": true},
		retry: map[string]int{"id-2": 1, "id-3": -1}, // id-3 never stops asking
		sent:  map[string]int{}, targets: map[string]string{}}

	rep, err := Replay(context.Background(), dir, f.send, ReplayOptions{
		RetryFor: 300 * time.Millisecond, RetryBase: 20 * time.Millisecond})

	if err != nil {
		t.Fatal(err)
	}
	if rep.Delivered != 3 || rep.Rejected != 1 || rep.Kept != 2 || rep.Files != 1 {
		t.Errorf("report %+v", rep) // delivered: id-0, id-2 (after a retry), id-4
	}
	if f.sent["id-2"] != 2 || f.sent["id-3"] < 3 || f.targets["id-0"] != "logs-a" {
		t.Errorf("sent %v targets %v", f.sent, f.targets)
	}
	if !strings.Contains(rep.Reasons["gone"], "no output gone") {
		t.Errorf("reasons %v", rep.Reasons)
	}

	s, _ := Summarize(dir)
	left := map[string]Letter{}
	files, _ := Files(dir)
	for _, p := range files {
		fh, _ := os.Open(p)
		lines, _ := readLines(fh)
		fh.Close()
		for _, ln := range lines {
			left[ln.letter.ID] = *ln.letter
		}
	}
	if s.Events != 3 || len(left) != 3 {
		t.Fatalf("%d letters left (%v), want id-1, id-3, id-5", s.Events, left)
	}
	if l := left["id-1"]; l.Reason != "still wrong" || l.Replays != 1 || l.LastReplay == nil {
		t.Errorf("refused again: %+v", l)
	}
	if l := left["id-3"]; l.Reason != fmt.Sprintf(mappingReason, 3) || l.Replays != 0 {
		t.Errorf("kept for later: %+v", l)
	}

	// Nothing to do the second time but what is still refused.
	f.reject = map[string]bool{}
	f.retry = map[string]int{}
	rep, err = Replay(context.Background(), dir, f.send, ReplayOptions{})
	if err != nil || rep.Delivered != 2 || rep.Kept != 1 {
		t.Errorf("second replay: %+v %v", rep, err)
	}
}

func TestReplaySkipsTheFileBeingWritten(t *testing.T) {
	dir := t.TempDir()
	old, _ := Open(dir, Options{})
	_ = old.Write(letters(0, 2, "logs-a", mappingReason))
	old.Close()
	w, _ := Open(dir, Options{})
	defer w.Close()
	_ = w.Write(letters(2, 2, "logs-a", mappingReason))

	f := &fakeOutput{sent: map[string]int{}, targets: map[string]string{}}
	rep, err := Replay(context.Background(), dir, f.send, ReplayOptions{})

	if err != nil {
		t.Fatal(err)
	}
	if rep.Delivered != 2 || len(rep.Busy) != 1 || f.sent["id-2"] != 0 {
		t.Errorf("report %+v sent %v", rep, f.sent)
	}
	// The writer goes on appending to its file.
	if err := w.Write(letters(4, 1, "logs-a", mappingReason)); err != nil {
		t.Fatal(err)
	}
	if s, _ := Summarize(dir); s.Events != 3 {
		t.Errorf("%d letters left, want 3", s.Events)
	}
}

func TestReasonClass(t *testing.T) {
	for in, want := range map[string]string{
		fmt.Sprintf(mappingReason, 1): "mapper_parsing_exception: failed to parse field " +
			"[source.ip] of type [ip] in document with id '…'",
		"illegal_argument_exception: x": "illegal_argument_exception: x",
		"tenant acme cluster [http://a]: document_parsing_exception: [1:2] failed to parse " +
			"field [n] of type [long] in document with id 'abc'. Preview of field's value: 'x'": "tenant acme " +
			"cluster [http://a]: document_parsing_exception: [1:2] failed to parse field [n] of " +
			"type [long] in document with id '…'",
	} {
		if got := ReasonClass(in); got != want {
			t.Errorf("ReasonClass(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1GiB": 1 << 30, "512 MiB": 512 << 20, "2GB": 2e9, "100": 100, "10KB": 10000,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "lots", "1.5GiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}
