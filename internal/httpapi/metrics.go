package httpapi

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Metrics collects the HTTP metrics and writes them in the Prometheus text
// exposition format (version 0.0.4), by hand: no client library. Labels
// are bounded: route is a route pattern or "unmatched", method one of the
// standard methods or "other", code a status number.
type Metrics struct {
	inFlight atomic.Int64

	mu        sync.Mutex
	requests  map[requestKey]uint64
	durations map[string]*histogram
	bytesIn   map[string]uint64
	bytesOut  map[string]uint64
}

type requestKey struct {
	route, method string
	code          int
}

// durationBuckets are the upper bounds, in seconds, of the request
// duration histogram: from a cached read to a multi-GiB transfer.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

type histogram struct {
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	count  uint64
}

// NewMetrics returns an empty collector.
func NewMetrics() *Metrics {
	return &Metrics{
		requests:  map[requestKey]uint64{},
		durations: map[string]*histogram{},
		bytesIn:   map[string]uint64{},
		bytesOut:  map[string]uint64{},
	}
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// observe records one finished request.
func (m *Metrics) observe(route, method string, code int, d time.Duration, in, out int64) {
	secs := d.Seconds()
	i, _ := slices.BinarySearch(durationBuckets, secs)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[requestKey{route, methodLabel(method), code}]++
	h := m.durations[route]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(durationBuckets)+1)}
		m.durations[route] = h
	}
	h.counts[i]++
	h.sum += secs
	h.count++
	m.bytesIn[route] += uint64(in)
	m.bytesOut[route] += uint64(out)
}

// BytesIn returns the request body bytes read so far, over all routes.
func (m *Metrics) BytesIn() uint64 { return m.sumBytes(m.bytesIn) }

// BytesOut returns the response body bytes written so far, over all routes.
func (m *Metrics) BytesOut() uint64 { return m.sumBytes(m.bytesOut) }

func (m *Metrics) sumBytes(byRoute map[string]uint64) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n uint64
	for _, v := range byRoute {
		n += v
	}
	return n
}

// WriteTo writes every metric in the Prometheus text format.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriter(w)
	cw := &countWriter{w: bw}
	m.write(cw)
	err := bw.Flush()
	return cw.n, err
}

func (m *Metrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()

	fmt.Fprintf(w, "# HELP cairn_http_requests_total HTTP requests served, by route pattern, method and status code.\n")
	fmt.Fprintf(w, "# TYPE cairn_http_requests_total counter\n")
	keys := make([]requestKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b requestKey) int {
		if c := strings.Compare(a.route, b.route); c != 0 {
			return c
		}
		if c := strings.Compare(a.method, b.method); c != 0 {
			return c
		}
		return a.code - b.code
	})
	for _, k := range keys {
		fmt.Fprintf(w, "cairn_http_requests_total{route=%s,method=%s,code=\"%d\"} %d\n",
			labelValue(k.route), labelValue(k.method), k.code, m.requests[k])
	}

	fmt.Fprintf(w, "# HELP cairn_http_request_duration_seconds Time to serve HTTP requests, by route pattern.\n")
	fmt.Fprintf(w, "# TYPE cairn_http_request_duration_seconds histogram\n")
	for _, route := range sortedKeys(m.durations) {
		h := m.durations[route]
		var cum uint64
		for i, le := range durationBuckets {
			cum += h.counts[i]
			fmt.Fprintf(w, "cairn_http_request_duration_seconds_bucket{route=%s,le=\"%s\"} %d\n", labelValue(route), formatFloat(le), cum)
		}
		cum += h.counts[len(durationBuckets)]
		fmt.Fprintf(w, "cairn_http_request_duration_seconds_bucket{route=%s,le=\"+Inf\"} %d\n", labelValue(route), cum)
		fmt.Fprintf(w, "cairn_http_request_duration_seconds_sum{route=%s} %s\n", labelValue(route), formatFloat(h.sum))
		fmt.Fprintf(w, "cairn_http_request_duration_seconds_count{route=%s} %d\n", labelValue(route), h.count)
	}

	for _, c := range []struct {
		name, help string
		m          map[string]uint64
	}{
		{"cairn_http_bytes_in_total", "Request body bytes read, by route pattern.", m.bytesIn},
		{"cairn_http_bytes_out_total", "Response body bytes written, by route pattern.", m.bytesOut},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", c.name, c.help, c.name)
		for _, route := range sortedKeys(c.m) {
			fmt.Fprintf(w, "%s{route=%s} %d\n", c.name, labelValue(route), c.m[route])
		}
	}

	fmt.Fprintf(w, "# HELP cairn_http_requests_in_flight HTTP requests being served.\n")
	fmt.Fprintf(w, "# TYPE cairn_http_requests_in_flight gauge\n")
	fmt.Fprintf(w, "cairn_http_requests_in_flight %d\n", m.inFlight.Load())
}

// labelValue quotes a label value as the text format wants: backslash,
// double quote and newline escaped.
func labelValue(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if _, err := s.metrics.WriteTo(w); err != nil {
		return nil // the scraper left
	}
	if s.extraMetrics != nil {
		s.extraMetrics(w)
	}
	return nil
}
