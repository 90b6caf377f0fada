package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// printJSON writes v as indented JSON on stdout: the --json output of every
// command, the resource as the API returns it.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout())
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table writes aligned columns for people.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(toAny(header)...)
	}
	return t
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// row writes one row; values are formatted with %v and sanitized so that a
// tab or newline in user data cannot break the columns.
func (t *table) row(cells ...any) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(t.tw, "\t")
		}
		io.WriteString(t.tw, cell(fmt.Sprint(c)))
	}
	io.WriteString(t.tw, "\n")
}

func (t *table) flush() error { return t.tw.Flush() }

// cell makes s safe for one table cell.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// fields prints "key: value" lines aligned, for show commands.
type fields struct {
	tw *tabwriter.Writer
}

func newFields(w io.Writer) *fields {
	return &fields{tw: tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)}
}

// add writes one line unless value is empty.
func (f *fields) add(key, value string) {
	if value == "" {
		return
	}
	fmt.Fprintf(f.tw, "%s:\t%s\n", key, cell(value))
}

func (f *fields) flush() error { return f.tw.Flush() }

// formatTime prints a time for people: UTC, to the second.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// formatBytes prints a size in bytes with a binary unit.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// formatFloat prints a metric the shortest way that reads back exactly.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// formatMap prints k=v pairs sorted by key, comma-separated.
func formatMap[V any](m map[string]V, format func(V) string) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + format(m[k])
	}
	return strings.Join(parts, ", ")
}

func formatStrings(m map[string]string) string {
	return formatMap(m, func(s string) string { return s })
}

func formatMetrics(m map[string]float64) string { return formatMap(m, formatFloat) }

// yesNo prints a flag for a table.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// formatAliases prints a model's aliases as name=vN, sorted by name.
func formatAliases(m map[string]int64) string {
	return formatMap(m, func(n int64) string { return "v" + itoa(n) })
}

// nonNilSlice makes an empty list print as [] rather than null.
func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// printDescription prints a Markdown description after a record, set off
// by a blank line.
func (a *app) printDescription(desc string) error {
	if strings.TrimSpace(desc) == "" {
		return nil
	}
	_, err := fmt.Fprintf(a.stdout(), "\n%s\n", strings.TrimRight(desc, "\n"))
	return err
}

// compactJSON prints a JSON document on one line.
func compactJSON(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return string(raw)
	}
	return buf.String()
}
