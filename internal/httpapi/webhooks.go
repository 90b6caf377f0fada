package httpapi

import (
	"context"
	"math"
	"net/http"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// WebhookTester sends a test delivery to a subscription and records it:
// internal/webhook's Dispatcher, wired by cairn serve.
type WebhookTester interface {
	Test(ctx context.Context, id string) (*cairn.Delivery, error)
}

type webhookList struct {
	Items []*cairn.Webhook `json:"items"`
}

// deliveryPage is a page of delivery attempts, newest first: pass
// next_before as before to read older ones (0: there are none).
type deliveryPage struct {
	Items      []*cairn.Delivery `json:"items"`
	NextBefore int64             `json:"next_before"`
}

type deadLetterList struct {
	Items []*cairn.DeadLetter `json:"items"`
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.svc.ListWebhooks(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, webhookList{Items: ws})
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var in registry.WebhookCreate
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	wh, err := s.svc.CreateWebhook(r.Context(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", escapedPath("webhooks", wh.ID))
	return writeJSON(w, http.StatusCreated, wh)
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.svc.WebhookStatus(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wh)
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request) error {
	var in registry.WebhookUpdate
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	wh, err := s.svc.UpdateWebhook(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wh)
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteWebhook(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request) error {
	// GetWebhook first: it checks the caller's role (the dispatcher does not).
	if _, err := s.svc.GetWebhook(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	if s.webhooks == nil {
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "this server does not deliver webhooks")
	}
	d, err := s.webhooks.Test(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	before, err := queryInt(r, "before", 0, 0, math.MaxInt64)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100, 1, registry.MaxPageSize)
	if err != nil {
		return err
	}
	ds, err := s.svc.ListDeliveries(r.Context(), cairn.DeliveryQuery{WebhookID: r.PathValue("id"), Before: before, Limit: int(limit)})
	if err != nil {
		return err
	}
	page := deliveryPage{Items: ds}
	if n := len(ds); n == int(limit) {
		page.NextBefore = ds[n-1].ID
	}
	return writeJSON(w, http.StatusOK, page)
}

func (s *Server) listDeadLetters(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit", 100, 1, registry.MaxPageSize)
	if err != nil {
		return err
	}
	dls, err := s.svc.ListDeadLetters(r.Context(), r.PathValue("id"), r.URL.Query().Get("status"), int(limit))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, deadLetterList{Items: dls})
}

func (s *Server) redeliver(w http.ResponseWriter, r *http.Request) error {
	var in registry.RedeliverRequest
	if err := s.decodeOptionalJSON(w, r, &in); err != nil {
		return err
	}
	res, err := s.svc.Redeliver(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}
