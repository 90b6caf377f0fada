package mlflowapi

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/cairn-registry/cairn"
)

// Registered models and model versions are written by hand rather than by
// encoding/json's reflection, which cost a search page of 100 models a
// sizable share of its time: appendRegisteredModel and appendModelVersion
// write the bytes json.Marshal writes for registeredModel and
// modelVersion (TestAppendMatchesMarshal holds them to it).

// appendRegisteredModel appends m as json.Marshal writes it.
func appendRegisteredModel(dst []byte, m *registeredModel) []byte {
	dst = append(dst, `{"name":`...)
	dst = cairn.AppendJSONString(dst, m.Name)
	dst = append(dst, `,"creation_timestamp":`...)
	dst = strconv.AppendInt(dst, m.CreationTimestamp, 10)
	dst = append(dst, `,"last_updated_timestamp":`...)
	dst = strconv.AppendInt(dst, m.LastUpdatedTimestamp, 10)
	dst = appendOptional(dst, `,"user_id":`, m.UserID)
	dst = appendOptional(dst, `,"description":`, m.Description)
	if len(m.LatestVersions) > 0 {
		dst = append(dst, `,"latest_versions":[`...)
		for i := range m.LatestVersions {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendModelVersion(dst, &m.LatestVersions[i])
		}
		dst = append(dst, ']')
	}
	dst = appendKeyValues(dst, m.Tags)
	if len(m.Aliases) > 0 {
		dst = append(dst, `,"aliases":[`...)
		for i, a := range m.Aliases {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"alias":`...)
			dst = cairn.AppendJSONString(dst, a.Alias)
			dst = append(dst, `,"version":`...)
			dst = cairn.AppendJSONString(dst, a.Version)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendModelVersion appends v as json.Marshal writes it.
func appendModelVersion(dst []byte, v *modelVersion) []byte {
	dst = append(dst, `{"name":`...)
	dst = cairn.AppendJSONString(dst, v.Name)
	dst = append(dst, `,"version":`...)
	dst = cairn.AppendJSONString(dst, v.Version)
	dst = append(dst, `,"creation_timestamp":`...)
	dst = strconv.AppendInt(dst, v.CreationTimestamp, 10)
	dst = append(dst, `,"last_updated_timestamp":`...)
	dst = strconv.AppendInt(dst, v.LastUpdatedTimestamp, 10)
	dst = appendOptional(dst, `,"user_id":`, v.UserID)
	dst = append(dst, `,"current_stage":`...)
	dst = cairn.AppendJSONString(dst, v.CurrentStage)
	dst = appendOptional(dst, `,"description":`, v.Description)
	dst = appendOptional(dst, `,"source":`, v.Source)
	dst = appendOptional(dst, `,"run_id":`, v.RunID)
	dst = append(dst, `,"status":`...)
	dst = cairn.AppendJSONString(dst, v.Status)
	dst = appendOptional(dst, `,"status_message":`, v.StatusMessage)
	dst = appendKeyValues(dst, v.Tags)
	dst = appendOptional(dst, `,"run_link":`, v.RunLink)
	if len(v.Aliases) > 0 {
		dst = append(dst, `,"aliases":[`...)
		for i, a := range v.Aliases {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = cairn.AppendJSONString(dst, a)
		}
		dst = append(dst, ']')
	}
	dst = appendOptional(dst, `,"model_id":`, v.ModelID)
	return append(dst, '}')
}

// appendKeyValues appends a tags field, left out when empty (omitempty).
func appendKeyValues(dst []byte, tags []keyValue) []byte {
	if len(tags) == 0 {
		return dst
	}
	dst = append(dst, `,"tags":[`...)
	for i, kv := range tags {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"key":`...)
		dst = cairn.AppendJSONString(dst, kv.Key)
		dst = append(dst, `,"value":`...)
		dst = cairn.AppendJSONString(dst, kv.Value)
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendOptional appends a string field, left out when empty (omitempty).
func appendOptional(dst []byte, field, s string) []byte {
	if s == "" {
		return dst
	}
	return cairn.AppendJSONString(append(dst, field...), s)
}

// bodyPool recycles response buffers: a search page's body is tens of
// kilobytes, and allocating one per request made the garbage collector run
// every few requests. A buffer is free again once written, since the
// ResponseWriter copies what it is given. The zero value is ready to use.
type bodyPool struct{ p sync.Pool }

// maxPooledBody bounds the buffers kept, so that one huge page (1,000
// models with long descriptions) does not stay in memory.
const maxPooledBody = 1 << 20

// get returns an empty buffer; put gives it back.
func (bp *bodyPool) get() *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	return new([]byte)
}

func (bp *bodyPool) put(b *[]byte) {
	if cap(*b) <= maxPooledBody {
		bp.p.Put(b)
	}
}

// writeJSONBytes answers 200 with body, a JSON document.
func writeJSONBytes(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // a failed write means the client left
}
