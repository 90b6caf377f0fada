package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"net/textproto"
	"slices"

	"github.com/cairn-registry/cairn"
)

// WebhookCreate is the request to create a subscription.
type WebhookCreate struct {
	URL string `json:"url"`
	// Name names the subscription; required for the MLflow format.
	Name string `json:"name,omitempty"`
	// Format is "standard" (the default) or "mlflow": MLflow 3's headers
	// and payloads, with EventTypes naming MLflow events.
	Format string `json:"format,omitempty"`
	// Template is a JSON payload template (cairn.WebhookTemplate) rendered
	// per event instead of the standard body; standard format only.
	Template json.RawMessage `json:"template,omitempty"`
	// Secret signs deliveries. Standard format: whsec_ and the base64 of 24
	// to 64 random bytes; empty, the server generates one and shows it
	// once. MLflow format: any string, or none for unsigned deliveries.
	Secret     string   `json:"secret,omitempty"`
	EventTypes []string `json:"event_types,omitempty"`
	Model      string   `json:"model,omitempty"`
	Alias      string   `json:"alias,omitempty"`
	// Description says what the subscription is for.
	Description string `json:"description,omitempty"`
	// Active defaults to true.
	Active *bool `json:"active,omitempty"`
	// Headers are custom request headers sent with every delivery, such as
	// {"Authorization": "Bearer …"}. Their values are kept like the secret:
	// answers show only their names (header_names).
	Headers map[string]string `json:"headers,omitempty"`
}

// WebhookCreated answers a creation: the subscription and, this once, its
// secret.
type WebhookCreated struct {
	cairn.Webhook
	Secret string `json:"secret"`
}

// WebhookUpdate changes a subscription; nil fields stay as they are. A
// subscription's format is fixed. Template null removes the template.
type WebhookUpdate struct {
	Name        *string         `json:"name,omitempty"`
	Template    json.RawMessage `json:"template,omitempty"`
	URL         *string         `json:"url,omitempty"`
	Secret      *string         `json:"secret,omitempty"`
	EventTypes  *[]string       `json:"event_types,omitempty"`
	Model       *string         `json:"model,omitempty"`
	Alias       *string         `json:"alias,omitempty"`
	Description *string         `json:"description,omitempty"`
	Active      *bool           `json:"active,omitempty"`
	// SetHeaders adds or replaces custom headers (by case-insensitive
	// name); DeleteHeaders removes them (a name that is not set is
	// EINVALID: a typo must not pass for a removal).
	SetHeaders    map[string]string `json:"set_headers,omitempty"`
	DeleteHeaders []string          `json:"delete_headers,omitempty"`
}

// RedeliverRequest asks for dead letters to be delivered again: those with
// the given sequence numbers, or every dead one if Seqs is empty.
type RedeliverRequest struct {
	Seqs []int64 `json:"seqs,omitempty"`
}

// RedeliverResult says how many dead letters were queued.
type RedeliverResult struct {
	Queued []int64 `json:"queued"`
}

// webhookTarget is the audit target of a subscription.
func webhookTarget(id string) string { return "webhook:" + id }

// redacted returns w without its secret and its headers' values, for
// answers and audit states: the headers are named in HeaderNames.
func redacted(w *cairn.Webhook) *cairn.Webhook {
	c := *w
	c.Secret = ""
	c.HeaderNames = cairn.HeaderNamesOf(w.Headers)
	c.Headers = nil
	c.Types = slices.Clone(w.Types)
	c.Template = slices.Clone(w.Template)
	return &c
}

// CreateWebhook subscribes a URL to events. It returns EINVALID for a bad
// URL, secret or filter. The secret is in the answer and never again.
func (s *Service) CreateWebhook(ctx context.Context, req WebhookCreate) (*WebhookCreated, error) {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return nil, err
	}
	now := cairn.Timestamp(s.now())
	w := &cairn.Webhook{
		ID: newID(), Name: req.Name, URL: req.URL, Format: req.Format, Secret: req.Secret, Headers: req.Headers,
		Template: compactTemplate(req.Template), Description: req.Description, Active: true,
		EventFilter: cairn.EventFilter{Types: nonNilStrings(req.EventTypes), Model: req.Model, Alias: req.Alias},
		CreatedBy:   cairn.ActorFromContext(ctx).Name, CreatedAt: now, UpdatedAt: now,
	}
	if req.Active != nil {
		w.Active = *req.Active
	}
	if w.Format == "" {
		w.Format = cairn.WebhookStandard
	}
	if w.Secret == "" && w.Format == cairn.WebhookStandard {
		w.Secret = cairn.NewWebhookSecret()
	}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	err := s.update(ctx, func(m *mutation) error {
		if err := m.tx.CreateWebhook(ctx, w); err != nil {
			return err
		}
		m.record(cairn.EventWebhookCreated, webhookTarget(w.ID), "", "", nil, redacted(w))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &WebhookCreated{Webhook: *redacted(w), Secret: w.Secret}, nil
}

// GetWebhook returns a subscription without its secret; ENOTFOUND.
func (s *Service) GetWebhook(ctx context.Context, id string) (*cairn.Webhook, error) {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return nil, err
	}
	w, err := s.store.GetWebhook(ctx, id)
	if err != nil {
		return nil, err
	}
	return redacted(w), nil
}

// WebhookStatus is a subscription and where its delivery stands: the
// cursor (every event up to it is done with) and the event being retried,
// if any.
type WebhookStatus struct {
	cairn.Webhook
	Delivery *cairn.WebhookState `json:"delivery"`
}

// WebhookStatus returns a subscription, without its secret, and its
// delivery state; ENOTFOUND.
func (s *Service) WebhookStatus(ctx context.Context, id string) (*WebhookStatus, error) {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return nil, err
	}
	w, err := s.store.GetWebhook(ctx, id)
	if err != nil {
		return nil, err
	}
	st, err := s.store.GetWebhookState(ctx, id)
	if err != nil {
		return nil, err
	}
	return &WebhookStatus{Webhook: *redacted(w), Delivery: st}, nil
}

// ListWebhooks returns every subscription, without secrets, oldest first.
func (s *Service) ListWebhooks(ctx context.Context) ([]*cairn.Webhook, error) {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return nil, err
	}
	ws, err := s.store.ListWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	for i, w := range ws {
		ws[i] = redacted(w)
	}
	return ws, nil
}

// UpdateWebhook changes a subscription; ENOTFOUND, or EINVALID for a bad
// field. Deactivating pauses delivery: the cursor stays where it is and
// delivery resumes from there once the subscription is active again.
func (s *Service) UpdateWebhook(ctx context.Context, id string, req WebhookUpdate) (*cairn.Webhook, error) {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return nil, err
	}
	var out *cairn.Webhook
	err := s.update(ctx, func(m *mutation) error {
		w, err := m.tx.GetWebhook(ctx, id)
		if err != nil {
			return err
		}
		before := redacted(w)
		if req.Name != nil {
			w.Name = *req.Name
		}
		if req.Template != nil {
			w.Template = compactTemplate(req.Template)
		}
		if req.URL != nil {
			w.URL = *req.URL
		}
		if req.Secret != nil {
			w.Secret = *req.Secret
		}
		if req.EventTypes != nil {
			w.Types = nonNilStrings(*req.EventTypes)
		}
		if req.Model != nil {
			w.Model = *req.Model
		}
		if req.Alias != nil {
			w.Alias = *req.Alias
		}
		if req.Description != nil {
			w.Description = *req.Description
		}
		if req.Active != nil {
			w.Active = *req.Active
		}
		if len(req.SetHeaders) > 0 || len(req.DeleteHeaders) > 0 {
			if w.Headers, err = updateHeaders(w.Headers, req.SetHeaders, req.DeleteHeaders); err != nil {
				return err
			}
		}
		if err := w.Validate(); err != nil {
			return err
		}
		w.UpdatedAt = m.now
		if err := m.tx.UpdateWebhook(ctx, w); err != nil {
			return err
		}
		out = redacted(w)
		m.record(cairn.EventWebhookUpdated, webhookTarget(id), "", "", before, out)
		return nil
	})
	return out, err
}

// updateHeaders applies a webhook update's header changes to cur (names
// compared case-insensitively): deletions first, then additions and
// replacements. EINVALID for a deletion of a header that is not set, or
// a header both set and deleted.
func updateHeaders(cur, set map[string]string, del []string) (map[string]string, error) {
	out := make(map[string]string, len(cur)+len(set))
	for k, v := range cur {
		out[textproto.CanonicalMIMEHeaderKey(k)] = v
	}
	for _, k := range del {
		c := textproto.CanonicalMIMEHeaderKey(k)
		if _, ok := out[c]; !ok {
			return nil, cairn.Errorf(cairn.EINVALID, "delete_headers: the webhook has no header %q", k)
		}
		delete(out, c)
	}
	setNames := map[string]bool{}
	for k, v := range set {
		c := textproto.CanonicalMIMEHeaderKey(k)
		for _, d := range del {
			if textproto.CanonicalMIMEHeaderKey(d) == c {
				return nil, cairn.Errorf(cairn.EINVALID, "header %s is both set and deleted", c)
			}
		}
		if setNames[c] {
			return nil, cairn.Errorf(cairn.EINVALID, "set_headers: header %s is given twice (header names are case-insensitive)", c)
		}
		setNames[c] = true
		out[c] = v
	}
	return out, nil
}

// DeleteWebhook deletes a subscription with its delivery log and dead
// letters; ENOTFOUND.
func (s *Service) DeleteWebhook(ctx context.Context, id string) error {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return err
	}
	return s.update(ctx, func(m *mutation) error {
		w, err := m.tx.GetWebhook(ctx, id)
		if err != nil {
			return err
		}
		if err := m.tx.DeleteWebhook(ctx, id); err != nil {
			return err
		}
		m.record(cairn.EventWebhookDeleted, webhookTarget(id), "", "", redacted(w), nil)
		return nil
	})
}

// ListDeliveries lists a subscription's delivery attempts, newest first;
// ENOTFOUND if there is no such subscription.
func (s *Service) ListDeliveries(ctx context.Context, q cairn.DeliveryQuery) ([]*cairn.Delivery, error) {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return nil, err
	}
	if q.Limit < 0 || q.Limit > MaxPageSize {
		return nil, cairn.Errorf(cairn.EINVALID, "limit must be between 1 and %d", MaxPageSize)
	}
	if _, err := s.store.GetWebhook(ctx, q.WebhookID); err != nil {
		return nil, err
	}
	return s.store.ListDeliveries(ctx, q)
}

// ListDeadLetters lists a subscription's dead letters in sequence order,
// in one status only unless status is ""; ENOTFOUND.
func (s *Service) ListDeadLetters(ctx context.Context, id, status string, limit int) ([]*cairn.DeadLetter, error) {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return nil, err
	}
	switch status {
	case "", cairn.DeadLetterDead, cairn.DeadLetterQueued, cairn.DeadLetterDelivered:
	default:
		return nil, cairn.Errorf(cairn.EINVALID, "dead letter status %q: want dead, queued or delivered", status)
	}
	if limit < 0 || limit > MaxPageSize {
		return nil, cairn.Errorf(cairn.EINVALID, "limit must be between 1 and %d", MaxPageSize)
	}
	if _, err := s.store.GetWebhook(ctx, id); err != nil {
		return nil, err
	}
	return s.store.ListDeadLetters(ctx, id, status, limit)
}

// Redeliver queues dead letters of a subscription for one more delivery
// each: those numbered in req.Seqs (ENOTFOUND if one is not a dead letter
// of it), or all that are dead. Dispatchers send queued letters before
// the subscription's next new event.
func (s *Service) Redeliver(ctx context.Context, id string, req RedeliverRequest) (*RedeliverResult, error) {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return nil, err
	}
	res := &RedeliverResult{Queued: []int64{}}
	err := s.update(ctx, func(m *mutation) error {
		if _, err := m.tx.GetWebhook(ctx, id); err != nil {
			return err
		}
		var todo []*cairn.DeadLetter
		if len(req.Seqs) == 0 {
			for {
				dls, err := m.tx.ListDeadLetters(ctx, id, cairn.DeadLetterDead, MaxPageSize)
				if err != nil {
					return err
				}
				todo = append(todo, dls...)
				if len(dls) < MaxPageSize {
					break
				}
				// Queue this batch so the next read sees the rest.
				if err := queue(ctx, m, dls); err != nil {
					return err
				}
			}
		} else {
			all, err := m.tx.ListDeadLetters(ctx, id, "", MaxPageSize)
			if err != nil {
				return err
			}
			for _, seq := range req.Seqs {
				i := slices.IndexFunc(all, func(dl *cairn.DeadLetter) bool { return dl.EventSeq == seq })
				if i < 0 {
					return cairn.Errorf(cairn.ENOTFOUND, "event %d is not a dead letter of webhook %q", seq, id)
				}
				todo = append(todo, all[i])
			}
		}
		if err := queue(ctx, m, todo); err != nil {
			return err
		}
		for _, dl := range todo {
			res.Queued = append(res.Queued, dl.EventSeq)
		}
		if len(todo) > 0 {
			m.record(cairn.EventWebhookRedelivered, webhookTarget(id), "", "", nil, map[string]any{"webhook_id": id, "seqs": res.Queued})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func queue(ctx context.Context, m *mutation, dls []*cairn.DeadLetter) error {
	for _, dl := range dls {
		if dl.Status == cairn.DeadLetterQueued {
			continue
		}
		dl.Status, dl.UpdatedAt = cairn.DeadLetterQueued, m.now
		if err := m.tx.PutDeadLetter(ctx, dl); err != nil {
			return err
		}
	}
	return nil
}

// compactTemplate stores a template as compact JSON; null or nothing is
// no template. An invalid one is kept as given for Validate to refuse.
func compactTemplate(t json.RawMessage) json.RawMessage {
	if len(t) == 0 || string(bytes.TrimSpace(t)) == "null" {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, t); err != nil {
		return slices.Clone(t)
	}
	return b.Bytes()
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// maxFilterScan bounds how many events one FilterEvents call reads.
const maxFilterScan = 10 * MaxPageSize

// FilterEvents reads up to limit events with Seq > after that pass f, in
// order. It reads at most 10,000 events per call, and returns the sequence
// number it read up to: pass that as the next after, so a reader moves on
// past events the filter skipped even when none matched. EINVALID for a
// malformed filter.
func (s *Service) FilterEvents(ctx context.Context, after int64, limit int, f cairn.EventFilter) ([]*cairn.Event, int64, error) {
	if err := s.authorizeAll(ctx, cairn.RoleReader); err != nil {
		return nil, after, err
	}
	if err := f.Validate(); err != nil {
		return nil, after, err
	}
	if limit < 0 || limit > MaxPageSize {
		return nil, after, cairn.Errorf(cairn.EINVALID, "limit must be between 1 and %d", MaxPageSize)
	}
	if limit == 0 {
		limit = 100
	}
	out := []*cairn.Event{}
	for scanned := 0; scanned < maxFilterScan; {
		evs, err := s.store.ListEvents(ctx, after, MaxPageSize)
		if err != nil {
			return nil, after, err
		}
		for _, ev := range evs {
			if f.Match(ev) {
				out = append(out, ev)
			}
			after = ev.Seq
			if len(out) == limit {
				return out, after, nil
			}
		}
		if len(evs) < MaxPageSize {
			break
		}
		scanned += len(evs)
	}
	return out, after, nil
}
