package cli

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/spf13/cobra"
)

// parseKV parses repeated --flag k=v values into a map. A value without
// '=', an empty key or a key given twice with different values is a usage
// error.
func parseKV(c *cobra.Command, flag string, values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(values))
	for _, kv := range values {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageErr(c, "--%s %q: want KEY=VALUE", flag, kv)
		}
		if old, dup := m[k]; dup && old != v {
			return nil, usageErr(c, "--%s %s given twice with different values", flag, k)
		}
		m[k] = v
	}
	return m, nil
}

// parseMetrics parses repeated --metric k=v values; v must be a finite number.
func parseMetrics(c *cobra.Command, values []string) (map[string]float64, error) {
	kv, err := parseKV(c, "metric", values)
	if err != nil || kv == nil {
		return nil, err
	}
	m := make(map[string]float64, len(kv))
	for k, v := range kv {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, usageErr(c, "--metric %s=%s: the value must be a finite number", k, v)
		}
		m[k] = f
	}
	return m, nil
}

// parseRef parses a reference argument; a malformed one is a usage error.
func parseRef(c *cobra.Command, s string) (cairn.Ref, error) {
	r, err := cairn.ParseRef(s)
	if err != nil {
		return cairn.Ref{}, asUsage(c, err)
	}
	return r, nil
}

// parseModelName checks a model name argument.
func parseModelName(c *cobra.Command, s string) (string, error) {
	if err := cairn.ValidateModelName(s); err != nil {
		return "", asUsage(c, err)
	}
	return s, nil
}

// parseVersion parses a version number argument, "3" or "v3".
func parseVersion(c *cobra.Command, s string) (int64, error) {
	n, err := cairn.ParseVersionNumber(s)
	if err != nil {
		return 0, asUsage(c, err)
	}
	return n, nil
}

// ifCurrent parses --if-current: nil when the flag was not given.
func ifCurrent(c *cobra.Command, s string) (*int64, error) {
	if !c.Flags().Changed("if-current") {
		return nil, nil
	}
	if s == "0" || s == "none" {
		// Compare-and-swap against "the alias does not exist yet".
		var zero int64
		return &zero, nil
	}
	n, err := parseVersion(c, s)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// readDescription reads --description-file; "-" reads stdin. It returns
// nil when the flag was not given, so an update leaves the description.
func (a *app) readDescription(c *cobra.Command, file string) (*string, error) {
	if !c.Flags().Changed("description-file") {
		return nil, nil
	}
	var b []byte
	var err error
	if file == "-" {
		b, err = readAllLimited(a.env.Stdin, cairn.MaxDescriptionLength+1)
	} else {
		b, err = readFileLimited(a.path(file), cairn.MaxDescriptionLength+1)
	}
	if err != nil {
		return nil, fmt.Errorf("read description: %w", err)
	}
	if len(b) > cairn.MaxDescriptionLength {
		return nil, cairn.Errorf(cairn.EINVALID, "description file %s is larger than %d bytes", file, cairn.MaxDescriptionLength)
	}
	s := string(b)
	return &s, nil
}

func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllLimited(f, limit)
}

func readAllLimited(r io.Reader, limit int64) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, limit))
}
