// Command mixgen writes a realistic mix of Zeek/Corelight JSON log records
// of any size, made from the bundled samples, for the benchmarks in bench/.
//
//	go run ./bench/mixgen -n 1000000 -tenants 1 -out mix/
//
// The mix is about half conn and a quarter dns; the other quarter is
// shared by the other sample types (http, ssl, weird, x509, notice, files
// and the rest) in the proportions of their sample files. Each record
// keeps its sample's shape (key order, epoch or ISO ts, nested values)
// with fresh values where a stream of real records would differ: ts and
// _write_ts increase from record to record (about 1000 records a second),
// and uid, fuid and id are unique. With -tenants N, every record carries
// `_system_name: sensor-<tenant>` for one of N tenants picked at random.
//
// -out names a folder (one <type>.log per log type, so an input that takes
// the log type from the file name gets it right; the folder also gets
// mix.json, counts and bytes per type) or a file ending in .log, .ndjson
// or .json, or - for stdout (one stream; records without `_path` get one).
// The same -seed gives the same bytes.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Shares of the two big log types; the rest goes to the others.
const (
	shareConn = 0.50
	shareDNS  = 0.25
)

// baseMicros is the first record's ts: 2024-04-19T10:00:00Z.
const baseMicros = 1713520800 * 1_000_000

// Manifest describes a generated mix; in folder mode it is written to
// mix.json beside the logs.
type Manifest struct {
	Events  int64                `json:"events"`
	Bytes   int64                `json:"bytes"`
	Tenants int                  `json:"tenants"`
	Seed    uint64               `json:"seed"`
	Types   map[string]TypeCount `json:"types"`
}

// TypeCount is what the mix holds of one log type.
type TypeCount struct {
	Events int64 `json:"events"`
	Bytes  int64 `json:"bytes"`
}

func main() {
	var (
		n       = flag.Int64("n", 1_000_000, "number of records")
		tenants = flag.Int("tenants", 0, "number of tenants in _system_name (0: no sensor name)")
		out     = flag.String("out", "mix", "folder (one <type>.log per type), or a .log/.ndjson/.json file, or -")
		seed    = flag.Uint64("seed", 1, "random seed; the same seed gives the same mix")
		samples = flag.String("samples", filepath.Join("testdata", "zeek", "json"),
			"folder of Zeek JSON sample logs")
	)
	flag.Parse()
	if err := run(*n, *tenants, *out, *seed, *samples); err != nil {
		fmt.Fprintln(os.Stderr, "mixgen:", err)
		os.Exit(1)
	}
}

func run(n int64, tenants int, out string, seed uint64, samples string) error {
	if n < 0 || tenants < 0 {
		return errors.New("-n and -tenants must not be negative")
	}
	types, err := loadSamples(samples, tenants > 0)
	if err != nil {
		return err
	}
	if err := setWeights(types); err != nil {
		return err
	}

	single := out == "-" || hasAnySuffix(out, ".log", ".ndjson", ".json")
	w, err := newWriters(out, single)
	if err != nil {
		return err
	}
	if single {
		for _, lt := range types {
			for i := range lt.templates {
				lt.templates[i] = lt.templates[i].withPath(lt.name)
			}
		}
	}

	m := generate(types, n, tenants, seed, w)
	if err := w.close(); err != nil {
		return err
	}
	if !single {
		b, _ := json.MarshalIndent(m, "", "  ")
		if err := os.WriteFile(filepath.Join(out, "mix.json"), append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	report(os.Stderr, m)
	return nil
}

// setWeights gives conn and dns their shares and splits the rest by the
// number of sample records of each other type.
func setWeights(types []*logType) error {
	var rest float64
	found := map[string]bool{}
	for _, lt := range types {
		if lt.name == "conn" || lt.name == "dns" {
			found[lt.name] = true
			continue
		}
		rest += float64(len(lt.templates))
	}
	if !found["conn"] || !found["dns"] {
		return errors.New("the samples need conn.log and dns.log")
	}
	for _, lt := range types {
		switch lt.name {
		case "conn":
			lt.weight = shareConn
		case "dns":
			lt.weight = shareDNS
		default:
			lt.weight = (1 - shareConn - shareDNS) * float64(len(lt.templates)) / rest
		}
	}
	return nil
}

// generate writes n records and returns what it wrote.
func generate(types []*logType, n int64, tenants int, seed uint64, w *writers) Manifest {
	rng := rand.New(rand.NewPCG(seed, seed^0x6d6978676))
	m := Manifest{Events: n, Tenants: tenants, Seed: seed, Types: map[string]TypeCount{}}
	cum := make([]float64, len(types))
	var sum float64
	for i, lt := range types {
		sum += lt.weight
		cum[i] = sum
	}
	names := tenantNames(tenants)
	v := values{tag: idTag(seed)}
	var buf []byte
	for i := int64(0); i < n; i++ {
		x := rng.Float64() * sum
		k := sort.SearchFloat64s(cum, x)
		if k == len(types) {
			k--
		}
		lt := types[k]
		t := &lt.templates[lt.next]
		lt.next = (lt.next + 1) % len(lt.templates)

		// Strictly increasing: 997 µs apart plus a jitter below 997 µs.
		v.tsMicros = baseMicros + i*997 + rng.Int64N(997)
		v.seq = uint64(i)
		if names != nil {
			v.sensor = names[rng.IntN(len(names))]
		}
		buf = t.render(buf[:0], &v)
		w.write(lt.name, buf)

		c := m.Types[lt.name]
		c.Events++
		c.Bytes += int64(len(buf))
		m.Types[lt.name] = c
		m.Bytes += int64(len(buf))
	}
	return m
}

// tenantNames are the sensor names of n tenants: sensor-t001 … .
func tenantNames(n int) []string {
	if n == 0 {
		return nil
	}
	width := len(fmt.Sprint(n))
	if width < 3 {
		width = 3
	}
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("sensor-t%0*d", width, i+1)
	}
	return out
}

// idTag is six base-62 characters from the seed, so mixes made with
// different seeds do not share ids.
func idTag(seed uint64) string {
	x := seed*0x9e3779b97f4a7c15 + 0x2545f4914f6cdd1d
	var b [6]byte
	for i := range b {
		b[i] = b62[x%62]
		x /= 62
	}
	return string(b[:])
}

func hasAnySuffix(s string, suffixes ...string) bool {
	for _, x := range suffixes {
		if strings.HasSuffix(s, x) {
			return true
		}
	}
	return false
}

func report(w io.Writer, m Manifest) {
	names := make([]string, 0, len(m.Types))
	for k := range m.Types {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return m.Types[names[i]].Events > m.Types[names[j]].Events })
	fmt.Fprintf(w, "mixgen: %d records, %.1f MB, %d tenants\n", m.Events, float64(m.Bytes)/1e6, m.Tenants)
	for _, k := range names {
		c := m.Types[k]
		fmt.Fprintf(w, "  %-14s %10d  %5.2f %%\n", k, c.Events, 100*float64(c.Events)/float64(max(m.Events, 1)))
	}
}

// writers hold one buffered file per log type, or one stream.
type writers struct {
	dir    string
	single *bufio.Writer
	closer io.Closer
	files  map[string]*os.File
	bufs   map[string]*bufio.Writer
	err    error
}

func newWriters(out string, single bool) (*writers, error) {
	w := &writers{files: map[string]*os.File{}, bufs: map[string]*bufio.Writer{}}
	switch {
	case out == "-":
		w.single = bufio.NewWriterSize(os.Stdout, 1<<20)
	case single:
		f, err := os.Create(out)
		if err != nil {
			return nil, err
		}
		w.single, w.closer = bufio.NewWriterSize(f, 1<<20), f
	default:
		if err := os.MkdirAll(out, 0o755); err != nil {
			return nil, err
		}
		old, _ := filepath.Glob(filepath.Join(out, "*.log"))
		if len(old) > 0 {
			return nil, fmt.Errorf("%s already holds .log files (%s); use an empty folder, "+
				"an input glob would read them too", out, filepath.Base(old[0]))
		}
		w.dir = out
	}
	return w, nil
}

func (w *writers) write(name string, b []byte) {
	if w.err != nil {
		return
	}
	if w.single != nil {
		_, w.err = w.single.Write(b)
		return
	}
	bw := w.bufs[name]
	if bw == nil {
		f, err := os.Create(filepath.Join(w.dir, name+".log"))
		if err != nil {
			w.err = err
			return
		}
		w.files[name] = f
		bw = bufio.NewWriterSize(f, 1<<20)
		w.bufs[name] = bw
	}
	_, w.err = bw.Write(b)
}

func (w *writers) close() error {
	errs := []error{w.err}
	if w.single != nil {
		errs = append(errs, w.single.Flush())
	}
	if w.closer != nil {
		errs = append(errs, w.closer.Close())
	}
	for name, bw := range w.bufs {
		errs = append(errs, bw.Flush(), w.files[name].Close())
	}
	return errors.Join(errs...)
}
