package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// slot is a value the generator writes fresh for every record.
type slot int

const (
	slotNone slot = iota
	slotEpoch
	slotISO
	slotUID
	slotFUID
	slotFileID
	slotSensor
)

// part is a piece of a record template: literal bytes, then a slot.
type part struct {
	lit  []byte
	slot slot
}

// template is one sample record, cut where the generator writes new
// values: ts and _write_ts (in the form the sample uses), uid, fuid, id
// and _system_name. Everything else is copied byte for byte, in order.
//
// Limitation: references between records are not rewritten — conn_uids,
// fuids and cert_chain_fuids still name the samples' ids, so a join of
// files to conn over a generated mix finds nothing; keeping them
// consistent needs one id map per generated connection.
type template struct {
	parts []part
	// hasPath says whether the sample carries `_path`.
	hasPath bool
}

// logType is the samples of one Zeek log type.
type logType struct {
	name      string
	templates []template
	weight    float64
	next      int // round robin over templates
}

// loadSamples reads every <type>.log of dir (Zeek JSON lines) into
// templates. Types whose records carry no ts (loaded_scripts, written once
// at start-up) are left out: a stream of them has no order to keep.
func loadSamples(dir string, sensor bool) ([]*logType, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("samples %s: no *.log files", dir)
	}
	sort.Strings(files)
	var out []*logType
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".log")
		lt, err := loadType(f, name, sensor)
		if err != nil {
			return nil, err
		}
		if lt != nil {
			out = append(out, lt)
		}
	}
	return out, nil
}

func loadType(file, name string, sensor bool) (*logType, error) {
	fh, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer fh.Close()

	lt := &logType{name: name}
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 || b[0] != '{' {
			continue
		}
		t, hasTS, err := parseTemplate(b, sensor)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		if !hasTS {
			continue
		}
		lt.templates = append(lt.templates, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(lt.templates) == 0 {
		return nil, nil
	}
	return lt, nil
}

// parseTemplate cuts one JSON object into literal parts and slots. Keys
// are written back as they were read; values are kept as raw bytes.
func parseTemplate(b []byte, sensor bool) (template, bool, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return template{}, false, fmt.Errorf("not a JSON object")
	}
	var (
		t     template
		lit   []byte
		hasTS bool
		first = true
	)
	lit = append(lit, '{')
	add := func(s slot) {
		t.parts = append(t.parts, part{lit: lit, slot: s})
		lit = nil
	}
	if sensor {
		// The sensor name goes first, so every record carries it even
		// when the sample has none.
		lit = append(lit, `"_system_name":`...)
		add(slotSensor)
		first = false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return template{}, false, err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return template{}, false, err
		}
		if key == "_system_name" && sensor {
			continue // replaced by the one written first
		}
		if !first {
			lit = append(lit, ',')
		}
		first = false
		kb, _ := json.Marshal(key)
		lit = append(lit, kb...)
		lit = append(lit, ':')

		isString := len(raw) > 0 && raw[0] == '"'
		switch {
		case key == "ts" || key == "_write_ts":
			hasTS = hasTS || key == "ts"
			if isString {
				add(slotISO)
			} else {
				add(slotEpoch)
			}
		case key == "uid" && isString:
			add(slotUID)
		case key == "fuid" && isString:
			add(slotFUID)
		case key == "id" && isString:
			add(slotFileID)
		default:
			if key == "_path" {
				t.hasPath = true
			}
			lit = append(lit, raw...)
		}
	}
	lit = append(lit, '}')
	add(slotNone)
	return t, hasTS, nil
}

// withPath returns t with `"_path":"<name>"` first, for a one-file mix
// where the file name cannot say the log type.
func (t template) withPath(name string) template {
	if t.hasPath {
		return t
	}
	pb, _ := json.Marshal(name)
	lit := append([]byte(`{"_path":`), pb...)
	lit = append(lit, ',')
	parts := append([]part(nil), t.parts...)
	parts[0].lit = append(lit, parts[0].lit[1:]...)
	return template{parts: parts, hasPath: true}
}

// values are the fresh values of one record.
type values struct {
	tsMicros int64  // microseconds since the epoch
	seq      uint64 // record number, for unique ids
	tag      string // per-seed id suffix
	sensor   string // full sensor name, "" for none
}

const b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// appendID writes a Zeek-shaped id: a letter and 17 base-62 characters,
// unique for (seq, tag). The record number is scrambled (a multiplication
// modulo 62^10, which is a bijection) so ids look random, as Zeek's do.
func appendID(dst []byte, letter byte, seq uint64, tag string) []byte {
	const mod = 839299365868340224 // 62^10
	hi, lo := bits.Mul64((seq+1)%mod, 0x5851f42d4c957f2d%mod)
	x := bits.Rem64(hi, lo, mod)
	dst = append(dst, '"', letter, b62[seq/mod%62])
	var d [10]byte
	for i := len(d) - 1; i >= 0; i-- {
		d[i] = b62[x%62]
		x /= 62
	}
	dst = append(dst, d[:]...)
	dst = append(dst, tag...)
	return append(dst, '"')
}

// appendEpoch writes seconds with up to six decimals, trailing zeros cut,
// as Zeek's JSON writer does (1672843078.13085).
func appendEpoch(dst []byte, us int64) []byte {
	dst = strconv.AppendInt(dst, us/1e6, 10)
	frac := us % 1e6
	if frac == 0 {
		return append(dst, ".0"...)
	}
	var d [7]byte
	d[0] = '.'
	for i := 6; i >= 1; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 7
	for d[n-1] == '0' {
		n--
	}
	return append(dst, d[:n]...)
}

func appendISO(dst []byte, us int64) []byte {
	dst = append(dst, '"')
	dst = time.UnixMicro(us).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z")
	return append(dst, '"')
}

// render appends one record and a newline to dst.
func (t *template) render(dst []byte, v *values) []byte {
	for _, p := range t.parts {
		dst = append(dst, p.lit...)
		switch p.slot {
		case slotEpoch:
			dst = appendEpoch(dst, v.tsMicros)
		case slotISO:
			dst = appendISO(dst, v.tsMicros)
		case slotUID:
			dst = appendID(dst, 'C', v.seq, v.tag)
		case slotFUID, slotFileID:
			dst = appendID(dst, 'F', v.seq, v.tag)
		case slotSensor:
			dst = strconv.AppendQuote(dst, v.sensor)
		}
	}
	return append(dst, '\n')
}
