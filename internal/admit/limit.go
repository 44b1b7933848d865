package admit

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultShare is the part of the memory limit the default budget takes:
// the rest is for the model (about 100-250 MB packed), the request bodies
// and read buffers, the engine's arena, and the garbage the collector has
// not yet returned (decoded images are garbage as soon as their tensor is
// made; with GOGC=100 the heap may grow to twice what is live).
const DefaultShare = 4

// minDefault is the floor of the default budget: a 12 MP PNG (48 MB of
// pixels) and its working copy still fit on a small machine.
const minDefault = 128 << 20

// Limit is the memory a process may use and where that figure came from.
type Limit struct {
	Bytes  int64
	Source string // "cgroup v2 memory.max", "cgroup v1 memory.limit_in_bytes", "physical memory"
}

// MemoryLimit is the container's memory limit (cgroup v2 memory.max, else
// cgroup v1 memory.limit_in_bytes, the lowest along the process's cgroup
// path), else the physical memory (/proc/meminfo MemTotal, which on AWS
// Lambda is the function's memory size). Bytes is 0 when none is known.
func MemoryLimit() Limit { return memoryLimit("/") }

// DefaultSize is the default decode budget, SizeFor(MemoryLimit()), and
// that limit.
func DefaultSize() (int64, Limit) {
	l := MemoryLimit()
	return SizeFor(l), l
}

// SizeFor is the default decode budget under the memory limit l:
// 1/DefaultShare of it, at least 128 MiB (and 512 MiB when no limit is
// known).
func SizeFor(l Limit) int64 {
	if l.Bytes <= 0 {
		return 512 << 20
	}
	return max(l.Bytes/DefaultShare, minDefault)
}

// unlimited is what cgroup v1 reports for no limit (the largest page
// multiple below 2^63); anything from here up means none.
const unlimited = 1 << 62

func memoryLimit(root string) Limit {
	cg, _ := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	v2path, v1path := cgroupPaths(cg)
	if n, ok := lowest(root, "sys/fs/cgroup", v2path, "memory.max"); ok {
		return Limit{n, "cgroup v2 memory.max"}
	}
	if n, ok := lowest(root, "sys/fs/cgroup/memory", v1path, "memory.limit_in_bytes"); ok {
		return Limit{n, "cgroup v1 memory.limit_in_bytes"}
	}
	if n := memTotal(root); n > 0 {
		return Limit{n, "physical memory"}
	}
	return Limit{}
}

// cgroupPaths reads /proc/self/cgroup: the v2 path ("0::/p") and the v1
// memory controller's ("N:memory:/p" or a list with memory in it).
func cgroupPaths(data []byte) (v2, v1 string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2 = parts[2]
		case containsField(parts[1], "memory"):
			v1 = parts[2]
		}
	}
	return v2, v1
}

func containsField(list, name string) bool {
	for f := range strings.SplitSeq(list, ",") {
		if f == name {
			return true
		}
	}
	return false
}

// lowest is the smallest limit in file along cgroup path p under mount
// (the path itself and each parent up to the mount's root), when any is
// set. Inside a container the mount is usually the container's own
// cgroup, so the root file is read too.
func lowest(root, mount, p, file string) (int64, bool) {
	best, found := int64(0), false
	seen := map[string]bool{}
	for dir := path.Clean("/" + p); ; dir = path.Dir(dir) {
		if !seen[dir] {
			seen[dir] = true
			if n, ok := readLimit(filepath.Join(root, mount, dir, file)); ok && (!found || n < best) {
				best, found = n, true
			}
		}
		if dir == "/" {
			return best, found
		}
	}
}

// readLimit reads a limit file: a byte count, or "max" (v2) or a huge
// number (v1) for none.
func readLimit(name string) (int64, bool) {
	data, err := os.ReadFile(name)
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(data))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= unlimited {
		return 0, false
	}
	return n, true
}

// memTotal is MemTotal from /proc/meminfo in bytes, or 0.
func memTotal(root string) int64 {
	data, err := os.ReadFile(filepath.Join(root, "proc/meminfo"))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return 0
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil || kb <= 0 {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// SetGoLimit sets the Go runtime's soft memory limit to 9/10 of l, unless
// one is set already (GOMEMLIMIT) or l is unknown, and returns the limit
// in effect (0: none). Without it the collector lets the heap grow to
// twice what was live at its last run, so decoded images that are done
// could hold as much memory again as the budget admits; with it, the
// collector runs before the container's limit is reached.
func SetGoLimit(l Limit) int64 {
	cur := debug.SetMemoryLimit(-1)
	if cur != math.MaxInt64 {
		return cur
	}
	if l.Bytes <= 0 {
		return 0
	}
	n := l.Bytes / 10 * 9
	debug.SetMemoryLimit(n)
	return n
}
