package chain_test

import (
	"fmt"
	"regexp"
	"slices"
	"testing"

	"github.com/mdrsflow/mdrsflow/sdk"
)

var processedAt = regexp.MustCompile(`"@timestamp":"[^"]*"`)

// The chain hands each finished event's objects to the next event. An
// event's document must then not depend on the events before it: every
// bundled sample record, run through the shipped transform forwards,
// backwards and in an interleaving, must come out byte for byte the same.
func TestDocumentsDoNotDependOnTheEventsBefore(t *testing.T) {
	c := buildBenchChain(t)
	samples := benchSamples(t)
	names := make([]string, 0, len(samples))
	for name := range samples {
		names = append(names, name)
	}
	slices.Sort(names)
	var recs []sdk.Record
	for _, name := range names {
		for i, line := range samples[name] {
			recs = append(recs, sdk.Record{Data: line, Path: name, Source: fmt.Sprintf("%s.log:%d", name, i+1)})
		}
	}

	run := func(order []sdk.Record) map[string]string {
		work := slices.Clone(order)
		out, dropped := c.Process(work)
		if dropped != 0 {
			t.Fatalf("%d records dropped", dropped)
		}
		docs := make(map[string]string, len(out))
		for _, r := range out {
			data := r.Data
			if r.Error != "" {
				// A record without a time (loaded_scripts) fails, and
				// its document is stamped with the time of the run.
				data = processedAt.ReplaceAll(data, []byte(`"@timestamp":"now"`))
			}
			docs[r.Source] = r.ID + " " + r.Tenant + " " + r.Error + r.Quarantine + "\n" + string(data)
		}
		return docs
	}
	forward := run(recs)
	if len(forward) != len(recs) {
		t.Fatalf("%d documents for %d records", len(forward), len(recs))
	}
	backward := slices.Clone(recs)
	slices.Reverse(backward)
	var interleaved []sdk.Record
	for i, j := 0, len(recs)/2; i < len(recs)/2 || j < len(recs); i, j = i+1, j+1 {
		if j < len(recs) {
			interleaved = append(interleaved, recs[j])
		}
		if i < len(recs)/2 {
			interleaved = append(interleaved, recs[i])
		}
	}
	for name, order := range map[string][]sdk.Record{"backwards": backward, "interleaved": interleaved} {
		got := run(order)
		diffs := 0
		for src, want := range forward {
			if got[src] != want {
				diffs++
				if diffs <= 3 {
					t.Errorf("%s, %s:\n got %s\nwant %s", name, src, got[src], want)
				}
			}
		}
		if diffs > 0 {
			t.Errorf("%s: %d of %d documents differ from the forward run", name, diffs, len(forward))
		}
	}
}
