package host

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/runtime/flow"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// deadLetters appends records an output refused for good to NDJSON files
// under the data directory, one line each: the event, the reason, the
// output, the target and the time. The file is opened on first use.
type deadLetters struct {
	dir string
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
}

func newDeadLetters(dir string) *deadLetters { return &deadLetters{dir: dir} }

func (d *deadLetters) write(rec sdk.Record, output, reason string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		if err := os.MkdirAll(d.dir, 0o750); err != nil {
			return fmt.Errorf("dead-letter queue: %w", err)
		}
		name := filepath.Join(d.dir, "dlq-"+time.Now().UTC().Format("20060102T150405Z")+".ndjson")
		f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("dead-letter queue: %w", err)
		}
		d.f, d.w = f, bufio.NewWriter(f)
	}
	line := map[string]any{
		"time":   time.Now().UTC().Format(time.RFC3339Nano),
		"output": output,
		"target": rec.Routes[0].Target,
		"id":     rec.ID,
		"source": rec.Source,
		"reason": reason,
	}
	if v, err := event.DecodeValue(rec.Data); err == nil {
		line["event"] = v
	} else {
		line["event_raw"] = string(rec.Data)
	}
	b, err := event.AppendValue(nil, line)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if _, err := d.w.Write(b); err != nil {
		return fmt.Errorf("dead-letter queue: %w", err)
	}
	// Flushed and synced at once: the input is acknowledged right after,
	// so the record must be on disk before that.
	if err := d.w.Flush(); err != nil {
		return fmt.Errorf("dead-letter queue: %w", err)
	}
	return d.f.Sync()
}

func (d *deadLetters) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	return errors.Join(d.w.Flush(), d.f.Close())
}

// pinnedSum checks an external plugin against its pinned SHA-256, if the
// flow pins one, and returns the digest for go-plugin to check again as
// it starts the process.
func pinnedSum(ext *flow.External) ([]byte, error) {
	if ext.SHA256 == "" {
		return nil, nil
	}
	want, err := hex.DecodeString(ext.SHA256)
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("external plugin %s: sha256 %q is not 64 hex digits", ext.Path, ext.SHA256)
	}
	f, err := os.Open(ext.Path)
	if err != nil {
		return nil, fmt.Errorf("external plugin: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := bufio.NewReader(f).WriteTo(h); err != nil {
		return nil, fmt.Errorf("external plugin %s: %w", ext.Path, err)
	}
	if got := h.Sum(nil); string(got) != string(want) {
		return nil, fmt.Errorf("external plugin %s: refusing to start it: its SHA-256 is %x but the flow pins %s; "+
			"if the binary was updated on purpose, put the new digest in the flow", ext.Path, got, ext.SHA256)
	}
	return want, nil
}
