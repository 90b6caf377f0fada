package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

func (s *Server) lineage(w http.ResponseWriter, r *http.Request) error {
	dir := cairn.Upstream
	switch d := r.URL.Query().Get("direction"); d {
	case "", "up":
	case "down":
		dir = cairn.Downstream
	default:
		return cairn.Errorf(cairn.EINVALID, "query parameter direction=%q: want up or down", d)
	}
	depth, err := queryInt(r, "depth", 10, 1, registry.MaxLineageDepth)
	if err != nil {
		return err
	}
	g, err := s.svc.Lineage(r.Context(), r.PathValue("ref"), dir, int(depth))
	if err != nil {
		return err
	}
	// The bytes writeJSON would write, encoded without reflection: an edge
	// is about 200 bytes, a node 50.
	b, err := g.AppendJSON(make([]byte, 0, 64+64*len(g.Nodes)+256*len(g.Edges)))
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	return writeBody(w, http.StatusOK, append(b, '\n'))
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	after, err := queryInt(r, "after", 0, 0, math.MaxInt64)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100, 1, registry.MaxPageSize)
	if err != nil {
		return err
	}
	since, err := queryTime(r, "since")
	if err != nil {
		return err
	}
	until, err := queryTime(r, "until")
	if err != nil {
		return err
	}
	entries, err := s.svc.ListAudit(r.Context(), cairn.AuditQuery{
		AfterSeq: after, Limit: int(limit), Target: q.Get("target"), Actor: q.Get("actor"),
		Action: q.Get("action"), Since: since, Until: until,
	})
	if err != nil {
		return err
	}
	page := auditPage{Items: entries, NextAfter: after}
	if page.Items == nil {
		page.Items = []*cairn.AuditEntry{}
	}
	if n := len(entries); n > 0 {
		page.NextAfter = entries[n-1].Seq
	}
	return writeJSON(w, http.StatusOK, page)
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.svc.VerifyAudit(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}

func (s *Server) listAuditCheckpoints(w http.ResponseWriter, r *http.Request) error {
	after, err := queryInt(r, "after", 0, 0, math.MaxInt64)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100, 1, registry.MaxPageSize)
	if err != nil {
		return err
	}
	cs, err := s.svc.ListAuditCheckpoints(r.Context(), after, int(limit))
	if err != nil {
		return err
	}
	page := checkpointPage{Items: cs, NextAfter: after}
	if n := len(cs); n > 0 {
		page.NextAfter = cs[n-1].Seq
	}
	return writeJSON(w, http.StatusOK, page)
}

// eventPollInterval is how often a long-poll on /events looks for new
// events. Polling the store (rather than an in-process signal) is what
// lets a long-poll see events committed by another replica.
const eventPollInterval = 250 * time.Millisecond

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	after, err := queryInt(r, "after", 0, 0, math.MaxInt64)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100, 1, registry.MaxPageSize)
	if err != nil {
		return err
	}
	wait, err := queryInt(r, "wait", 0, 0, int64(s.maxEventWait))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	filter := cairn.EventFilter{Types: q["type"], Model: q.Get("model"), Alias: q.Get("alias")}
	ctx := r.Context()
	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	var events []*cairn.Event
	next := after
	for {
		if filter.Empty() {
			events, err = s.svc.ListEvents(ctx, after, int(limit))
			if n := len(events); n > 0 {
				next = events[n-1].Seq
			}
		} else {
			// A filtered read moves on past the events it skipped, also
			// when none matched, so next_after may exceed the last item's.
			events, next, err = s.svc.FilterEvents(ctx, next, int(limit), filter)
		}
		if err != nil {
			return err
		}
		if len(events) > 0 || !time.Now().Before(deadline) {
			break
		}
		t := time.NewTimer(min(eventPollInterval, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	page := eventPage{Items: events, NextAfter: next}
	if page.Items == nil {
		page.Items = []*cairn.Event{}
	}
	return writeJSON(w, http.StatusOK, page)
}
