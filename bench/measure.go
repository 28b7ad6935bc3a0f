package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// userHZ is the unit of the times in /proc/<pid>/stat (USER_HZ, 100 on
// every Linux architecture Go supports).
const userHZ = 100

// sampleEvery is how often the CPU time and peak RSS of each process are
// read (/proc/<pid>/stat and status: a fraction of a millisecond).
const sampleEvery = 100 * time.Millisecond

// pssEvery is how often the tree is listed again and each process's PSS
// read, a multiple of sampleEvery (the -pss-every flag). Reading
// smaps_rollup walks the process's page tables under its mmap lock: 1 to
// 4 ms a read on the machine of bench/README.md, and listing a process's
// children (one file per thread) another 0.5. At 100 ms, for four
// processes, the harness took 5 to 8 % of a core from the two the flow
// runs on; at 500 ms about 1 %. Its own CPU is printed at the end.
//
// Limitation: the tree's PSS is sampled, not tracked — a peak shorter than
// pssEvery is missed (peak RSS per process is the kernel's VmHWM and
// misses nothing); an exact tree peak needs a cgroup per run and its
// memory.peak, which takes privileges the harness should not need.
var pssEvery = 500 * time.Millisecond

// stallAfter ends a run whose whole tree used no CPU for that long: a
// flow that waits for ever (an output retrying against a server that
// will never take its events) would otherwise hold the bench.
const stallAfter = 60 * time.Second

// ProcStat is what was seen of one process of the tree.
type ProcStat struct {
	Role string `json:"role"`
	// CPUSeconds is user+system time at the last sample (up to
	// sampleEvery before the process ended, for the plugins); for the
	// host, its own time when it had exited.
	CPUSeconds float64 `json:"cpu_s"`
	// PeakRSSMB is the kernel's high-water mark of resident memory
	// (VmHWM) at the last sample, in MB (10^6 bytes).
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// PeakPSSMB is the largest PSS seen in a sample.
	PeakPSSMB float64 `json:"peak_pss_mb"`

	PID       int `json:"pid"`
	startTime uint64
}

// Measured is one run of the binary, measured from outside.
type Measured struct {
	WallSeconds float64 `json:"wall_s"`
	// UserSeconds and SysSeconds come from wait4's rusage of the host:
	// the host and every descendant it waited for (the plugin processes).
	UserSeconds float64 `json:"user_s"`
	SysSeconds  float64 `json:"sys_s"`
	// HostSelfSeconds and HostChildSeconds are the exited host's own
	// utime+stime and its cutime+cstime, read from /proc while it was a
	// zombie; SampledChildSeconds sums the last samples of the plugin
	// processes. See CPUCheck.
	HostSelfSeconds     float64 `json:"host_self_cpu_s"`
	HostChildSeconds    float64 `json:"host_children_cpu_s"`
	SampledChildSeconds float64 `json:"sampled_children_cpu_s"`
	// PeakPSSMB is the largest sum of PSS over the tree in one sample;
	// PeakPSSAnonMB and PeakPSSFileMB split that sample into anonymous
	// memory (heaps, stacks) and mapped files (the binary's text and data,
	// whose shared pages PSS divides among the processes).
	PeakPSSMB     float64 `json:"peak_tree_pss_mb"`
	PeakPSSAnonMB float64 `json:"peak_tree_pss_anon_mb"`
	PeakPSSFileMB float64 `json:"peak_tree_pss_file_mb"`
	// MaxRSSMB is rusage's ru_maxrss: the largest single process.
	MaxRSSMB float64    `json:"rusage_max_rss_mb"`
	Procs    []ProcStat `json:"processes"`
	Samples  int        `json:"samples"`
	Stdout   string     `json:"-"`
	Stderr   string     `json:"-"`
}

// CPUSeconds is the CPU time of the whole tree.
func (m *Measured) CPUSeconds() float64 { return m.UserSeconds + m.SysSeconds }

// measure runs cmd to its end, sampling its process tree. It names cmd's
// process rootRole and its descendants by start order with roles (the
// host starts outputs, then filter chains, then inputs, one after
// another).
func measure(ctx context.Context, cmd *exec.Cmd, rootRole string, roles []string) (*Measured, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid

	exited := make(chan error, 1)
	go func() {
		// WNOWAIT leaves the host a zombie, so its final times (its own
		// and those of the children it reaped) can still be read.
		var info unix.Siginfo
		var err error
		for {
			err = unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				break
			}
		}
		exited <- err
	}()

	tr := newTracker(pid)
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	every := max(1, int(pssEvery/sampleEvery))
	ticks := 0
	var (
		waitErr    error
		stalled    bool
		lastTicks  uint64
		lastChange = time.Now()
	)
loop:
	for {
		select {
		case waitErr = <-exited:
			break loop
		case <-tick.C:
			cpu := tr.sample(ticks%every == 0)
			ticks++
			if cpu != lastTicks {
				lastTicks, lastChange = cpu, time.Now()
			} else if !stalled && time.Since(lastChange) > stallAfter {
				stalled = true
				_ = cmd.Process.Signal(syscall.SIGTERM)
			}
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			waitErr = <-exited
			break loop
		}
	}
	wall := time.Since(start)

	m := &Measured{WallSeconds: wall.Seconds(), Samples: tr.samples}
	if waitErr == nil {
		if st, err := readStat(pid); err == nil {
			m.HostSelfSeconds = float64(st.utime+st.stime) / userHZ
			m.HostChildSeconds = float64(st.cutime+st.cstime) / userHZ
		}
	}
	err := cmd.Wait()
	m.Stdout, m.Stderr = stdout.String(), stderr.String()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.UserSeconds = tv(ru.Utime)
		m.SysSeconds = tv(ru.Stime)
		m.MaxRSSMB = kibToMB(ru.Maxrss)
	}
	m.PeakPSSMB = kibToMB(tr.peak.pss)
	m.PeakPSSAnonMB, m.PeakPSSFileMB = kibToMB(tr.peak.anon), kibToMB(tr.peak.file)
	m.Procs, m.SampledChildSeconds = tr.procs(rootRole, roles, m.HostSelfSeconds)
	if stalled {
		return m, fmt.Errorf("stopped after %s without using any CPU (%v); the last lines it wrote:\n%s",
			stallAfter, err, lastLines(m.Stderr, 20))
	}
	if err != nil {
		return m, fmt.Errorf("%v\n%s", err, lastLines(m.Stderr, 20))
	}
	return m, nil
}

func kibToMB(kib int64) float64 { return float64(kib) * 1024 / 1e6 }

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// tracker samples a process and its descendants.
type tracker struct {
	root    int
	pids    []int // the tree at the last full sample
	seen    map[int]*ProcStat
	peak    pssKiB // the full sample with the largest total
	samples int    // full samples
}

type pssKiB struct{ pss, anon, file int64 }

func newTracker(root int) *tracker {
	return &tracker{root: root, seen: map[int]*ProcStat{}}
}

// sample reads stat and status of every process of the tree; a full
// sample lists the tree again first and reads smaps_rollup too. A process
// that ended since is skipped. It returns the CPU ticks the processes it
// read have used.
func (t *tracker) sample(full bool) (ticks uint64) {
	if full || t.pids == nil {
		t.pids = descendants(t.root)
		t.samples++
	}
	var sum pssKiB
	for _, pid := range t.pids {
		st, err := readStat(pid)
		if err != nil {
			continue
		}
		p := t.seen[pid]
		if p == nil {
			p = &ProcStat{PID: pid, startTime: st.start}
			t.seen[pid] = p
		}
		p.CPUSeconds = float64(st.utime+st.stime) / userHZ
		ticks += st.utime + st.stime
		if hwm := statusKiB(pid, "VmHWM:"); hwm > 0 {
			p.PeakRSSMB = kibToMB(hwm)
		}
		if !full {
			continue
		}
		r := rollup(pid)
		sum.pss += r.pss
		sum.anon += r.anon
		sum.file += r.file
		p.PeakPSSMB = max(p.PeakPSSMB, kibToMB(r.pss))
	}
	if sum.pss > t.peak.pss {
		t.peak = sum
	}
	return ticks
}

// procs names the processes seen: the root is rootRole, the others take
// roles in start order ("plugin N" past the end of roles). It also
// returns the children's summed CPU.
//
// Limitation: roles come from start order — a plugin the host restarts
// mid-run shows as "plugin N" and its CPU is not in its role's column
// (the totals stay right); naming them for sure needs the host to mark
// each process with the part it serves.
func (t *tracker) procs(rootRole string, roles []string, hostSelf float64) ([]ProcStat, float64) {
	var list []*ProcStat
	for _, p := range t.seen {
		list = append(list, p)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].startTime != list[j].startTime {
			return list[i].startTime < list[j].startTime
		}
		return list[i].PID < list[j].PID
	})
	var out []ProcStat
	var children float64
	k := 0
	for _, p := range list {
		ps := *p
		if p.PID == t.root {
			ps.Role = rootRole
			if hostSelf > 0 {
				ps.CPUSeconds = hostSelf
			}
		} else {
			if k < len(roles) {
				ps.Role = roles[k]
			} else {
				ps.Role = fmt.Sprintf("plugin %d", k+1)
			}
			k++
			children += ps.CPUSeconds
		}
		out = append(out, ps)
	}
	return out, children
}

// descendants lists root and every process below it, from the children
// files of each thread (/proc/<pid>/task/<tid>/children), or, on a kernel
// without them, from the parent pids of every process in /proc.
func descendants(root int) []int {
	out := []int{root}
	for i := 0; i < len(out); i++ {
		kids, ok := children(out[i])
		if !ok {
			return descendantsByScan(root)
		}
		out = append(out, kids...)
	}
	return out
}

// children reads the children of every thread of pid; ok is false when
// the kernel has no children files.
func children(pid int) (kids []int, ok bool) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, true // gone
	}
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "children"))
		if os.IsNotExist(err) {
			if _, statErr := os.Stat(filepath.Join(dir, t.Name())); statErr == nil {
				return nil, false
			}
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if k, err := strconv.Atoi(f); err == nil {
				kids = append(kids, k)
			}
		}
	}
	return kids, true
}

func descendantsByScan(root int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return []int{root}
	}
	kids := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue
		}
		kids[st.ppid] = append(kids[st.ppid], pid)
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, kids[out[i]]...)
	}
	return out
}

type procStat struct {
	ppid                         int
	utime, stime, cutime, cstime uint64
	start                        uint64
}

// readStat parses /proc/<pid>/stat (see proc(5)); the command name may
// hold spaces and parentheses, so fields are counted after the last ')'.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("stat of %d: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): field n is f[n-3].
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("stat of %d: %d fields", pid, len(f))
	}
	num := func(n int) uint64 { v, _ := strconv.ParseUint(f[n-3], 10, 64); return v }
	return procStat{
		ppid:  int(num(4)),
		utime: num(14), stime: num(15), cutime: num(16), cstime: num(17),
		start: num(22),
	}, nil
}

// statusKiB reads a "Key:   123 kB" line of /proc/<pid>/status.
func statusKiB(pid int, key string) int64 {
	return kibLine(filepath.Join("/proc", strconv.Itoa(pid), "status"), key)
}

// rollup reads PSS, anonymous and file-backed, from
// /proc/<pid>/smaps_rollup. Pss_Shmem is left out of the split: the
// flows use none.
func rollup(pid int) pssKiB {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return pssKiB{}
	}
	text := string(b)
	return pssKiB{pss: kibIn(text, "Pss:"), anon: kibIn(text, "Pss_Anon:"), file: kibIn(text, "Pss_File:")}
}

func kibLine(file, key string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	return kibIn(string(b), key)
}

// kibIn finds a "Key:   123 kB" line in text.
func kibIn(text, key string) int64 {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, key) {
			f := strings.Fields(line[len(key):])
			if len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				return v
			}
		}
	}
	return 0
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
