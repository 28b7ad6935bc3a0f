package file

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mdrsflow/mdrsflow/sdk"
)

// follower runs a follow-mode file input in the background.
type follower struct {
	*collector
	logs *logs
	stop func() // cancels Run and waits for it to return
}

func startFollow(t *testing.T, settings, dataDir string) *follower {
	t.Helper()
	f, l, err := buildLogs(t, "mode: follow\npoll_interval: 10ms\nbatch_timeout: 5ms\n"+
		settings, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{f: f, autoAck: true}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx, c.emit) }()
	fl := &follower{collector: c, logs: l}
	stopped := false
	fl.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	}
	t.Cleanup(fl.stop)
	return fl
}

// numbers returns the "n" field of each record, in order.
func (c *collector) numbers(t *testing.T) []int {
	t.Helper()
	var out []int
	for _, r := range c.records() {
		var v struct{ N int }
		if err := json.Unmarshal(r.Data, &v); err != nil {
			t.Fatalf("%s: %v: %s", r.Source, err, r.Data)
		}
		out = append(out, v.N)
	}
	return out
}

func (c *collector) waitCount(t *testing.T, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d records", n), func() bool { return len(c.records()) >= n })
}

func seq(first, last int) []int {
	var out []int
	for i := first; i <= last; i++ {
		out = append(out, i)
	}
	return out
}

func TestFollowGrowth(t *testing.T) {
	dir := t.TempDir()
	conn := filepath.Join(dir, "conn.log")
	writeFile(t, conn, jsonLines(1, 3))
	fl := startFollow(t, fmt.Sprintf("paths: [%q]", filepath.Join(dir, "*.log")), t.TempDir())
	fl.waitCount(t, 3)

	// A line being written is held back until its newline arrives.
	line4 := jsonLines(4, 1)
	appendFile(t, conn, jsonLines(5, 0)+line4[:10])
	appendFile(t, conn, line4[10:])
	fl.waitCount(t, 4)

	// A new file is picked up from its beginning.
	writeFile(t, filepath.Join(dir, "dns.log"), jsonLines(5, 2))
	fl.waitCount(t, 6)
	fl.stop()

	want := []string{"conn.log:1", "conn.log:2", "conn.log:3", "conn.log:4", "dns.log:1",
		"dns.log:2"}
	if got := fl.sources(); !slices.Equal(got, want) {
		t.Errorf("sources %v, want %v", got, want)
	}
	for _, r := range fl.records() {
		if r.Error != "" {
			t.Errorf("%s: %s", r.Source, r.Error)
		}
	}
}

// Following paths that match nothing says so once, and the files are
// still picked up when they appear.
func TestFollowWarnsWhileNothingMatches(t *testing.T) {
	dir := t.TempDir()
	fl := startFollow(t, fmt.Sprintf("paths: [%q]", filepath.Join(dir, "*.log")), t.TempDir())
	waitFor(t, "the warning", func() bool { return fl.logs.contains("no file matches paths yet") })
	writeFile(t, filepath.Join(dir, "conn.log"), jsonLines(1, 2))
	fl.waitCount(t, 2)
	fl.stop()
	if n := strings.Count(fl.logs.String(), "no file matches paths yet"); n != 1 {
		t.Errorf("warned %d times, want once", n)
	}
}

func TestFollowRenameRotation(t *testing.T) {
	tests := []struct {
		name string
		glob string // relative to the directory
		// partial: the rotated file ends with a line without newline,
		// which is sent once the rotated file has been quiet a while.
		partial bool
	}{
		{"rotated name not matched", "conn.log", true},
		{"rotated name matched too", "*.log", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			conn := filepath.Join(dir, "conn.log")
			rotated := filepath.Join(dir, "conn.2024-04-19-10-00-00.log")
			writeFile(t, conn, jsonLines(1, 3))
			fl := startFollow(t, fmt.Sprintf("paths: [%q]", filepath.Join(dir, tt.glob)),
				t.TempDir())
			fl.waitCount(t, 3)

			appendFile(t, conn, jsonLines(4, 1))
			if err := os.Rename(conn, rotated); err != nil {
				t.Fatal(err)
			}
			// The writer still holds the old file and flushes to it.
			last := jsonLines(5, 2)
			if tt.partial {
				last = strings.TrimSuffix(last, "\n")
			}
			appendFile(t, rotated, last)
			writeFile(t, conn, jsonLines(7, 2))
			fl.waitCount(t, 8)

			// A last line proves everything before it has been seen.
			appendFile(t, conn, jsonLines(9, 1))
			fl.waitCount(t, 9)
			fl.stop()

			got := fl.numbers(t)
			slices.Sort(got)
			if !slices.Equal(got, seq(1, 9)) {
				t.Errorf("records %v, want 1..9 once each", got)
			}
			for _, r := range fl.records() {
				if r.Error != "" {
					t.Errorf("%s: %s", r.Source, r.Error)
				}
			}
		})
	}
}

func TestFollowCopyTruncate(t *testing.T) {
	dir := t.TempDir()
	conn := filepath.Join(dir, "conn.log")
	writeFile(t, conn, jsonLines(1, 3))
	fl := startFollow(t, fmt.Sprintf("paths: [%q]", conn), t.TempDir())
	fl.waitCount(t, 3)

	// logrotate's copytruncate: copy the file away, then empty it.
	data, err := os.ReadFile(conn)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "conn.log.1"), string(data))
	if err := os.Truncate(conn, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, conn, jsonLines(4, 2))
	fl.waitCount(t, 5)
	waitFor(t, "truncation logged", func() bool { return fl.logs.contains("file truncated") })
	appendFile(t, conn, jsonLines(6, 1))
	fl.waitCount(t, 6)
	fl.stop()

	if got := fl.numbers(t); !slices.Equal(got, seq(1, 6)) {
		t.Errorf("records %v, want 1..6", got)
	}
	want := []string{"conn.log:1", "conn.log:2", "conn.log:3", "conn.log:1", "conn.log:2",
		"conn.log:3"}
	if got := fl.sources(); !slices.Equal(got, want) {
		t.Errorf("sources %v, want %v", got, want)
	}
}

func TestFollowGzipRotated(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	conn := filepath.Join(dir, "conn.log")
	writeFile(t, conn, jsonLines(1, 100)) // past the fingerprint length
	fl := startFollow(t, fmt.Sprintf("paths: [%q, %q]", conn, filepath.Join(dir, "*.gz")),
		data)
	fl.waitCount(t, 100)

	// Zeek rotates: rename, compress, remove; then starts a new file. The
	// compressed copy is recognised by its content and not read again.
	rotated := filepath.Join(dir, "conn.2024-04-19-10-00-00.log")
	if err := os.Rename(conn, rotated); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(rotated)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, rotated+".gz", string(gzipBytes(t, old)))
	if err := os.Remove(rotated); err != nil {
		t.Fatal(err)
	}
	writeFile(t, conn, jsonLines(101, 2))
	// An unrelated compressed log is read once, completely.
	writeFile(t, filepath.Join(dir, "dns.log.gz"), string(gzipBytes(t, []byte(jsonLines(103, 3)))))
	fl.waitCount(t, 105)

	appendFile(t, conn, jsonLines(106, 1))
	fl.waitCount(t, 106)
	fl.stop()

	got := fl.numbers(t)
	slices.Sort(got)
	if !slices.Equal(got, seq(1, 106)) {
		t.Errorf("%d records, want 1..106 once each", len(got))
	}
}

func TestFollowStartAtEnd(t *testing.T) {
	dir := t.TempDir()
	tsv := readTestdata(t, "smtp.tsv.log")
	smtp := filepath.Join(dir, "smtp.log")
	writeFile(t, smtp, string(tsv))
	// An archive present at startup is left alone too.
	writeFile(t, filepath.Join(dir, "old.log.gz"), string(gzipBytes(t, []byte(jsonLines(1, 3)))))
	fl := startFollow(t, fmt.Sprintf("paths: [%q, %q]\nstart_at: end",
		filepath.Join(dir, "*.log"), filepath.Join(dir, "*.gz")), t.TempDir())
	waitFor(t, "the files to be looked at", func() bool {
		return fl.logs.contains("reading file") && fl.logs.contains("skipping compressed file")
	})

	// Lines added later are read, converted with the header at the top.
	lines := strings.SplitAfter(string(tsv), "\n")
	appendFile(t, smtp, lines[8]+lines[9])
	fl.waitCount(t, 2)
	// A file that appears later is read from its beginning.
	writeFile(t, filepath.Join(dir, "conn.log"), jsonLines(1, 2))
	fl.waitCount(t, 4)
	fl.stop()

	recs := fl.records()
	if got := fl.sources(); !slices.Equal(got, []string{"smtp.log:29", "smtp.log:30",
		"conn.log:1", "conn.log:2"}) {
		t.Errorf("sources %v", got)
	}
	for _, r := range recs[:2] {
		var v map[string]any
		if err := json.Unmarshal(r.Data, &v); err != nil || r.Error != "" || v["uid"] == nil {
			t.Errorf("%s: %s (%s)", r.Source, r.Data, r.Error)
		}
	}
}

func TestRewrittenInPlace(t *testing.T) {
	dir := t.TempDir()
	conn := filepath.Join(dir, "conn.log")
	writeFile(t, conn, jsonLines(1, 3))
	f := build(t, fmt.Sprintf("paths: [%q]\nmode: follow", conn), t.TempDir())
	fi, err := os.Stat(conn)
	if err != nil {
		t.Fatal(err)
	}
	st := f.open(conn, fi, identity(conn, fi), false)
	if st == nil {
		t.Fatal("open failed")
	}
	defer f.closeFile(st)
	c := &collector{f: f}
	if _, err := f.readSome(context.Background(), c.emit, st, 100); err != nil || !st.eof {
		t.Fatalf("read: %v, eof %v", err, st.eof)
	}

	tests := []struct {
		name, content string
		want          bool
	}{
		{"grown", jsonLines(1, 5), false},
		{"rewritten longer", jsonLines(7, 9), true},
		{"truncated", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeFile(t, conn, tt.content)
			fi, err := os.Stat(conn)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.rewritten(st, fi); got != tt.want {
				t.Errorf("rewritten = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFollowRestart(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	conn := filepath.Join(dir, "conn.log")
	writeFile(t, conn, jsonLines(1, 5))
	settings := fmt.Sprintf("paths: [%q]", conn)

	fl := startFollow(t, settings, data)
	fl.waitCount(t, 5)
	fl.stop()
	if err := fl.f.Close(); err != nil {
		t.Fatal(err)
	}

	appendFile(t, conn, jsonLines(6, 2))
	fl2 := startFollow(t, settings, data)
	fl2.waitCount(t, 2)
	fl2.stop()
	if got := fl2.sources(); !slices.Equal(got, []string{"conn.log:6", "conn.log:7"}) {
		t.Errorf("after restart: %v", got)
	}
}

func TestFollowBatchTimeout(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "conn.log"), jsonLines(1, 3))
	fl := startFollow(t, fmt.Sprintf("paths: [%q]\nbatch_size: 1000",
		filepath.Join(dir, "*.log")), t.TempDir())
	// Three records never fill a batch of 1000; the timeout sends them.
	fl.waitCount(t, 3)
	fl.stop()
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if len(fl.batches) != 1 || fl.batches[0].ID != 1 {
		t.Errorf("batches %+v", fl.batches)
	}
}

var _ sdk.Emit = (&collector{}).emit
