package bench

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where a run happened, printed next to its figures:
// benchmark numbers mean nothing without it.
type Machine struct {
	CPUs       int       `json:"cpus"`       // logical CPUs the OS reports
	GOMAXPROCS int       `json:"gomaxprocs"` // what this process may use
	CPUModel   string    `json:"cpu_model"`
	MemoryMiB  int64     `json:"memory_mib"`
	GoVersion  string    `json:"go_version"`
	OS         string    `json:"os"`
	Time       time.Time `json:"time"`
}

// ThisMachine describes the machine the process runs on, from /proc where
// it exists; fields it cannot learn stay empty.
func ThisMachine() Machine {
	m := Machine{
		CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		Time: time.Now().UTC().Truncate(time.Second),
	}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	if kb := procField("/proc/meminfo", "MemTotal"); kb != "" {
		if n, err := strconv.ParseInt(strings.Fields(kb)[0], 10, 64); err == nil {
			m.MemoryMiB = n / 1024
		}
	}
	return m
}

// String is the one-line form printed above a results table.
func (m Machine) String() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(m.CPUs) + " CPUs")
	if m.CPUModel != "" {
		b.WriteString(" (" + m.CPUModel + ")")
	}
	if m.MemoryMiB > 0 {
		b.WriteString(", " + strconv.FormatInt((m.MemoryMiB+512)/1024, 10) + " GiB RAM")
	}
	b.WriteString(", " + m.GoVersion + " " + m.OS + ", " + m.Time.Format(time.RFC3339))
	return b.String()
}

// procField returns the value of the first "key: value" line of a /proc
// file, or "".
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// ProcStatusKiB returns a "VmHWM"-style field of /proc/<pid>/status in KiB
// (pid 0 means this process), or an error if it cannot be read.
func ProcStatusKiB(pid int, field string) (int64, error) {
	p := "/proc/self/status"
	if pid > 0 {
		p = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	v := procField(p, field)
	if v == "" {
		return 0, &os.PathError{Op: "read " + field, Path: p, Err: os.ErrNotExist}
	}
	n, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
	if err != nil {
		return 0, err
	}
	return n, nil
}
