package cairn

import (
	"fmt"
	"strconv"
)

// AppendNodeJSON appends n's JSON to dst: the bytes json.Marshal(n)
// writes, without reflection (TestAppendLineageJSONMatchesMarshal in
// internal/registry holds the two to the same bytes).
func AppendNodeJSON(dst []byte, n Node) []byte {
	dst = append(dst, `{"kind":`...)
	dst = AppendJSONString(dst, string(n.Kind))
	if n.Model != "" {
		dst = append(dst, `,"model":`...)
		dst = AppendJSONString(dst, n.Model)
	}
	if n.Version != 0 {
		dst = append(dst, `,"version":`...)
		dst = strconv.AppendInt(dst, n.Version, 10)
	}
	if n.RunID != "" {
		dst = append(dst, `,"run_id":`...)
		dst = AppendJSONString(dst, n.RunID)
	}
	return append(dst, '}')
}

// AppendEdgeJSON appends e's JSON to dst: the bytes json.Marshal(e)
// writes. It fails where json.Marshal does: on a CreatedAt that RFC 3339
// cannot write (a year outside 0–9999).
func AppendEdgeJSON(dst []byte, e *Edge) ([]byte, error) {
	dst = append(dst, `{"from":`...)
	dst = AppendNodeJSON(dst, e.From)
	dst = append(dst, `,"to":`...)
	dst = AppendNodeJSON(dst, e.To)
	dst = append(dst, `,"type":`...)
	dst = AppendJSONString(dst, string(e.Type))
	dst = append(dst, `,"created_by":`...)
	dst = AppendJSONString(dst, e.CreatedBy)
	dst = append(dst, `,"created_at":`...)
	dst, err := appendJSONTime(dst, e.CreatedAt)
	if err != nil {
		return dst, fmt.Errorf("encode edge %s -> %s: %w", e.From, e.To, err)
	}
	return append(dst, '}'), nil
}
