package file

import (
	"context"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"github.com/mdrsflow/mdrsflow/sdk"
)

// A write that stops half-way (here at the process's file size limit, which
// Go reports as EFBIG instead of dying of SIGXFSZ) is cut back to the lines
// before it, and the batch is retried into a file of whole lines.
func TestPartialWriteIsCutBack(t *testing.T) {
	dir := t.TempDir()
	o := start(t, dir, "", nil)
	if res := o.Write(context.Background(), []sdk.Record{rec("t", `{"a":1}`)}); res[0].Status != sdk.Delivered {
		t.Fatalf("first write: %v %q", res[0].Status, res[0].Reason)
	}

	var was syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &was); err != nil {
		t.Skip(err)
	}
	limit := syscall.Rlimit{Cur: 12, Max: was.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		t.Skip(err)
	}
	res := o.Write(context.Background(), []sdk.Record{rec("t", `{"b":"a line longer than the limit"}`)})
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &was); err != nil {
		t.Fatal(err)
	}

	if res[0].Status != sdk.Retry || !strings.Contains(res[0].Reason, "file too large") {
		t.Errorf("write past the limit: %v %q", res[0].Status, res[0].Reason)
	}
	if got, want := files(t, dir)["t.ndjson"], "{\"a\":1}\n"; got != want {
		t.Errorf("after the failed write the file holds %q, want %q", got, want)
	}
	res = o.Write(context.Background(), []sdk.Record{rec("t", `{"b":"a line longer than the limit"}`)})
	if res[0].Status != sdk.Delivered {
		t.Fatalf("retry: %v %q", res[0].Status, res[0].Reason)
	}
	if got, want := files(t, dir)["t.ndjson"], "{\"a\":1}\n{\"b\":\"a line longer than the limit\"}\n"; got != want {
		t.Errorf("after the retry the file holds %q, want %q", got, want)
	}
}

// max_open_files above half the process's limit on open files is lowered
// at start, with a warning that says how to raise the limit.
func TestMaxOpenFilesWithinDescriptorLimit(t *testing.T) {
	var was syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &was); err != nil {
		t.Skip(err)
	}
	low := syscall.Rlimit{Cur: 64, Max: was.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skip(err)
	}
	var logs syncBuffer
	o := start(t, t.TempDir(), "", slog.New(slog.NewJSONHandler(&logs, nil)))
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &was); err != nil {
		t.Fatal(err)
	}

	if o.MaxOpenFiles != 32 {
		t.Errorf("with a limit of 64 open files, max_open_files is %d, want 32", o.MaxOpenFiles)
	}
	if !strings.Contains(logs.String(), "ulimit -n") {
		t.Errorf("no warning on how to raise the limit:\n%s", logs.String())
	}
}
