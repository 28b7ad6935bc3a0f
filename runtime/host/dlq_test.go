package host_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mdrsflow/mdrsflow/plugins/outputs/elasticsearch/estest"
	"github.com/mdrsflow/mdrsflow/runtime/dlq"
	"github.com/mdrsflow/mdrsflow/runtime/host"
)

// With every event refused and a small bound, the queue keeps the newest
// letters, deletes the oldest files, and says so in its counters; every
// batch is still acknowledged once its events are dead-lettered or
// discarded by the bound.
func TestDeadLetterBound(t *testing.T) {
	t.Setenv(host.EnvDLQMaxSize, "16KiB")
	srv := estest.New(t)
	srv.RejectMapping(func(estest.Doc) bool { return true })
	dir := t.TempDir()
	name := "dlqbound"
	h := hookFor(name)
	f := writeFlowFile(t, esFlow(t, dir, name, srv.URL, 400, 20, ""))
	r, err := host.New(f, host.Options{InProcess: true, DataDir: filepath.Join(dir, "data"),
		Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	st := r.DeadLetters()
	if st.Written != 400 || st.Discarded == 0 || st.DiscardedFiles == 0 {
		t.Errorf("dead-letter stats %+v", st)
	}
	s, err := dlq.Summarize(host.DeadLetterDir(filepath.Join(dir, "data"), name))
	if err != nil {
		t.Fatal(err)
	}
	if s.Bytes > 16<<10 || uint64(s.Events)+st.Discarded != 400 {
		t.Errorf("on disk %d bytes, %d letters; discarded %d", s.Bytes, s.Events, st.Discarded)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.acks) != 20 {
		t.Errorf("%d batches acknowledged, want 20", len(h.acks))
	}
}

func TestDeadLetterSettings(t *testing.T) {
	dir := t.TempDir()
	hookFor("dlqbad")
	f := writeFlowFile(t, esFlow(t, dir, "dlqbad", "http://127.0.0.1:9", 1, 1, ""))

	t.Setenv(host.EnvDLQMaxSize, "a lot")
	_, err := host.New(f, host.Options{InProcess: true, DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), host.EnvDLQMaxSize) {
		t.Errorf("New with a bad size: %v", err)
	}

	if got, want := host.DeadLetterDir("/d", "my flow"), "/d/my_flow/dlq"; got != want {
		t.Errorf("DeadLetterDir = %q, want %q", got, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = host.OpenReplayOutput(ctx, f, "elasticsearch#9", dir, quietLogger())
	if !errors.Is(err, host.ErrNoSuchOutput) ||
		!strings.Contains(err.Error(), "its outputs: elasticsearch#1") {
		t.Errorf("OpenReplayOutput of a missing output: %v", err)
	}
}
