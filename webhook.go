package cairn

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/textproto"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// EventFilter selects events: by type (globs such as "alias.*"), by model
// name (a glob such as "churn-*") and by alias name (exact). An empty field
// matches every event; the fields are ANDed, the types ORed.
type EventFilter struct {
	Types []string `json:"event_types,omitempty"`
	Model string   `json:"model,omitempty"`
	Alias string   `json:"alias,omitempty"`
}

// Validate returns EINVALID if a glob is malformed.
func (f EventFilter) Validate() error {
	for _, t := range f.Types {
		if t == "" {
			return Errorf(EINVALID, "event type filter must not be empty")
		}
		if _, err := path.Match(t, ""); err != nil {
			return Errorf(EINVALID, "event type filter %q is not a valid glob", t)
		}
	}
	if _, err := path.Match(f.Model, ""); err != nil {
		return Errorf(EINVALID, "model filter %q is not a valid glob", f.Model)
	}
	return nil
}

// Match reports whether ev passes the filter. Globs use path.Match syntax
// (*, ?, [a-z]); event types and model names contain no '/', so '*'
// matches any run of characters. A model filter never matches an event
// about no model, nor an alias filter one about no alias.
func (f EventFilter) Match(ev *Event) bool {
	if len(f.Types) > 0 {
		ok := false
		for _, t := range f.Types {
			if m, _ := path.Match(t, ev.Type); m {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if f.Model != "" {
		if m, _ := path.Match(f.Model, ev.Model); !m || ev.Model == "" {
			return false
		}
	}
	if f.Alias != "" && f.Alias != ev.Alias {
		return false
	}
	return true
}

// Empty reports whether the filter matches every event.
func (f EventFilter) Empty() bool { return len(f.Types) == 0 && f.Model == "" && f.Alias == "" }

// Webhook formats: how a subscription's deliveries look.
const (
	// WebhookStandard deliveries carry Standard Webhooks headers and the
	// event in the {type, timestamp, data} envelope (or the subscription's
	// template, rendered).
	WebhookStandard = "standard"
	// WebhookMLflow deliveries are MLflow 3's: X-MLflow-* headers and an
	// {entity, action, timestamp, data} body. The subscription's event
	// types are then MLflow event names (MLflowWebhookEvents).
	WebhookMLflow = "mlflow"
)

// MLflowWebhookEvents are the event names an MLflow-style subscription may
// list, as MLflow 3 defines them (entity.action).
var MLflowWebhookEvents = []string{
	"registered_model.created",
	"model_version.created",
	"model_version_tag.set",
	"model_version_tag.deleted",
	"model_version_alias.created",
	"model_version_alias.deleted",
	"prompt.created",
	"prompt_version.created",
	"prompt_tag.set",
	"prompt_tag.deleted",
	"prompt_version_tag.set",
	"prompt_version_tag.deleted",
	"prompt_alias.created",
	"prompt_alias.deleted",
}

// Webhook is a subscription: events that pass its filter are POSTed to URL,
// signed with Secret, in sequence order. Secret never leaves the server
// after creation: it is not marshalled, so neither the API, the audit log
// nor the event feed carries it.
type Webhook struct {
	ID string `json:"id"`
	// Name is the MLflow webhook name; optional for standard subscriptions.
	Name string `json:"name,omitempty"`
	URL  string `json:"url"`
	// Format is WebhookStandard or WebhookMLflow.
	Format string `json:"format"`
	EventFilter
	// Template, if set, is the JSON payload template of a standard
	// subscription (see WebhookTemplate), rendered per event.
	Template    json.RawMessage `json:"template,omitempty"`
	Description string          `json:"description,omitempty"`
	Active      bool            `json:"active"`
	CreatedBy   string          `json:"created_by"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	Secret      string          `json:"-"`
	// Headers are custom request headers sent with every delivery
	// (Authorization: Bearer …), by canonical name. Their values are
	// secrets like Secret: never marshalled. HeaderNames lists their names,
	// sorted, for answers (the registry fills it).
	Headers     map[string]string `json:"-"`
	HeaderNames []string          `json:"header_names,omitempty"`
}

// Limits of a subscription's custom headers.
const (
	MaxWebhookHeaders      = 16
	MaxWebhookHeaderName   = 128
	MaxWebhookHeaderValue  = 8 << 10
	maxWebhookHeadersTotal = 32 << 10
)

// reservedWebhookHeaders are the headers a subscription may not set, by
// lower-case name, and why.
var reservedWebhookHeaders = map[string]string{
	"host":                 "the HTTP client sets it from the URL",
	"content-length":       "the HTTP client sets it from the body",
	"transfer-encoding":    "it is a hop-by-hop header the HTTP client manages",
	"connection":           "it is a hop-by-hop header the HTTP client manages",
	"keep-alive":           "it is a hop-by-hop header the HTTP client manages",
	"proxy-connection":     "it is a hop-by-hop header the HTTP client manages",
	"te":                   "it is a hop-by-hop header the HTTP client manages",
	"trailer":              "it is a hop-by-hop header the HTTP client manages",
	"upgrade":              "it is a hop-by-hop header the HTTP client manages",
	"webhook-id":           "Cairn sets it to identify each delivery (Standard Webhooks)",
	"webhook-timestamp":    "Cairn sets it to sign each delivery (Standard Webhooks)",
	"webhook-signature":    "Cairn signs each delivery with it (Standard Webhooks)",
	"x-mlflow-signature":   "Cairn signs MLflow-style deliveries with it",
	"x-mlflow-delivery-id": "Cairn sets it to identify MLflow-style deliveries",
	"x-mlflow-timestamp":   "Cairn sets it to sign MLflow-style deliveries",
}

// CanonicalWebhookHeaders checks a subscription's custom headers and
// returns them by canonical name (authorization → Authorization): at most
// 16, names HTTP tokens of at most 128 bytes and unique whatever their
// case, values non-empty without control characters (no CR or LF: a
// header cannot smuggle another) of at most 8 KiB, and none of the
// transport, hop-by-hop and signature headers (Host, Content-Length,
// Transfer-Encoding, Connection, webhook-id, webhook-timestamp,
// webhook-signature, X-MLflow-Signature, …). EINVALID naming the header;
// a value is never quoted in an error.
func CanonicalWebhookHeaders(h map[string]string) (map[string]string, error) {
	if len(h) == 0 {
		return nil, nil
	}
	if len(h) > MaxWebhookHeaders {
		return nil, Errorf(EINVALID, "a webhook sets at most %d headers; this one %d", MaxWebhookHeaders, len(h))
	}
	out := make(map[string]string, len(h))
	total := 0
	for _, name := range sortedStringKeys(h) {
		value := h[name]
		if name == "" {
			return nil, Errorf(EINVALID, "webhook header name is empty")
		}
		if len(name) > MaxWebhookHeaderName {
			return nil, Errorf(EINVALID, "webhook header name %q is longer than %d bytes", truncate(name, 60), MaxWebhookHeaderName)
		}
		for i := 0; i < len(name); i++ {
			if !isTokenChar(name[i]) {
				return nil, Errorf(EINVALID, "webhook header name %q is not an HTTP field name: use letters, digits and !#$%%&'*+-.^_`|~", truncate(name, 60))
			}
		}
		if why, ok := reservedWebhookHeaders[strings.ToLower(name)]; ok {
			return nil, Errorf(EINVALID, "webhook header %s cannot be set: %s", name, why)
		}
		c := textproto.CanonicalMIMEHeaderKey(name)
		if _, dup := out[c]; dup {
			return nil, Errorf(EINVALID, "webhook header %s is given twice (header names are case-insensitive)", c)
		}
		if value == "" {
			return nil, Errorf(EINVALID, "webhook header %s has an empty value", c)
		}
		if len(value) > MaxWebhookHeaderValue {
			return nil, Errorf(EINVALID, "webhook header %s: the value is longer than %d bytes", c, MaxWebhookHeaderValue)
		}
		if !utf8.ValidString(value) {
			return nil, Errorf(EINVALID, "webhook header %s: the value is not valid UTF-8", c)
		}
		for _, r := range value {
			if r != '\t' && (r < 0x20 || r == 0x7f) {
				return nil, Errorf(EINVALID, "webhook header %s: the value contains a control character (CR, LF, NUL, …)", c)
			}
		}
		total += len(c) + len(value)
		out[c] = value
	}
	if total > maxWebhookHeadersTotal {
		return nil, Errorf(EINVALID, "webhook headers are %d bytes together; the limit is %d", total, maxWebhookHeadersTotal)
	}
	return out, nil
}

// isTokenChar reports whether c may appear in an HTTP field name (RFC
// 9110's tchar).
func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// HeaderNamesOf returns the sorted names of headers, nil for none.
func HeaderNamesOf(h map[string]string) []string {
	if len(h) == 0 {
		return nil
	}
	return sortedStringKeys(h)
}

// MaxMLflowWebhookSecret bounds an MLflow-style subscription's secret.
const MaxMLflowWebhookSecret = 1024

// Validate checks the URL, the format, the secret, the filter, the
// template and the custom headers (putting their names in canonical form,
// see CanonicalWebhookHeaders); EINVALID otherwise. A standard subscription's secret is a
// whsec_ secret (WebhookKey); an MLflow-style one's is any string up to
// 1 KiB, or none (deliveries are then unsigned, as in MLflow), and its
// event types are one or more MLflowWebhookEvents.
func (w *Webhook) Validate() error {
	if err := ValidateWebhookURL(w.URL); err != nil {
		return err
	}
	if len(w.Name) > 256 {
		return Errorf(EINVALID, "webhook name is longer than 256 bytes")
	}
	if len(w.Description) > 4096 {
		return Errorf(EINVALID, "description is longer than 4096 bytes")
	}
	switch w.Format {
	case WebhookStandard:
		if _, err := WebhookKey(w.Secret); err != nil {
			return err
		}
		if len(w.Template) > 0 {
			if _, err := ParseWebhookTemplate(w.Template); err != nil {
				return err
			}
		}
	case WebhookMLflow:
		if strings.TrimSpace(w.Name) == "" {
			return Errorf(EINVALID, "an MLflow-style webhook needs a name")
		}
		if len(w.Secret) > MaxMLflowWebhookSecret {
			return Errorf(EINVALID, "webhook secret is longer than %d bytes", MaxMLflowWebhookSecret)
		}
		if len(w.Template) > 0 {
			return Errorf(EINVALID, "payload templates apply to standard subscriptions only; MLflow-style deliveries have MLflow's payload")
		}
		if len(w.Types) == 0 {
			return Errorf(EINVALID, "an MLflow-style webhook needs at least one event")
		}
		for _, t := range w.Types {
			if !slices.Contains(MLflowWebhookEvents, t) {
				return Errorf(EINVALID, "event %q is not an MLflow webhook event; want one of %s", t, strings.Join(MLflowWebhookEvents, ", "))
			}
		}
	default:
		return Errorf(EINVALID, "webhook format %q: want %q or %q", w.Format, WebhookStandard, WebhookMLflow)
	}
	h, err := CanonicalWebhookHeaders(w.Headers)
	if err != nil {
		return err
	}
	w.Headers = h
	return w.EventFilter.Validate()
}

// ValidateWebhookURL accepts absolute http and https URLs with a host and
// without credentials (a password in a URL ends up in logs). Whether the
// host may be reached is decided when it is dialled, not here.
func ValidateWebhookURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return Errorf(EINVALID, "webhook URL %q: want an absolute http:// or https:// URL", s)
	}
	if u.User != nil {
		return Errorf(EINVALID, "webhook URL must not carry credentials; the signature authenticates deliveries")
	}
	if len(s) > 2048 {
		return Errorf(EINVALID, "webhook URL is longer than 2048 bytes")
	}
	return nil
}

// webhookSecretPrefix starts every secret, as in the Standard Webhooks
// specification: whsec_ then the base64 of the signing key.
const webhookSecretPrefix = "whsec_"

// WebhookKey returns the HMAC key of a secret "whsec_<base64 of 24 to 64
// bytes>"; EINVALID for anything else.
func WebhookKey(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, webhookSecretPrefix)
	if !ok {
		return nil, Errorf(EINVALID, "webhook secret must be whsec_ followed by the base64 of 24 to 64 random bytes")
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(key) < 24 || len(key) > 64 {
		return nil, Errorf(EINVALID, "webhook secret must be whsec_ followed by the base64 of 24 to 64 random bytes")
	}
	return key, nil
}

// NewWebhookSecret returns a fresh secret of 32 random bytes.
func NewWebhookSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return webhookSecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// WebhookState is where a subscription's delivery stands: every event up to
// Cursor has been delivered, dead-lettered or skipped by the filter. The
// dispatcher writes it, never the registry, so it is neither audited nor
// evented.
type WebhookState struct {
	WebhookID string `json:"webhook_id"`
	Cursor    int64  `json:"cursor"`
	// HeadSeq is the event being retried (0: none), Attempts how often it
	// has been tried, FirstAttempt when, NextAttempt when to try again.
	HeadSeq      int64     `json:"head_seq,omitempty"`
	Attempts     int       `json:"attempts,omitempty"`
	FirstAttempt time.Time `json:"first_attempt,omitzero"`
	NextAttempt  time.Time `json:"next_attempt,omitzero"`
}

// Delivery outcomes.
const (
	DeliveryDelivered = "delivered" // the receiver answered 2xx
	DeliveryRetry     = "retry"     // failed; will be tried again
	DeliveryDead      = "dead"      // failed and the retry window is over: dead-lettered
	DeliveryTest      = "test"      // a test ping, outside the sequence
)

// Delivery is one attempt to deliver an event to a subscription.
type Delivery struct {
	ID         int64     `json:"id"`
	WebhookID  string    `json:"webhook_id"`
	EventSeq   int64     `json:"event_seq"`
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type"`
	Attempt    int       `json:"attempt"`
	Redelivery bool      `json:"redelivery,omitempty"`
	Time       time.Time `json:"time"`
	Outcome    string    `json:"outcome"`
	StatusCode int       `json:"status_code,omitempty"`
	LatencyMS  int64     `json:"latency_ms"`
	// Response is the start of the receiver's answer, at most 1 KiB.
	Response string `json:"response,omitempty"`
	Error    string `json:"error,omitempty"`
}

// MaxDeliveryResponse bounds Delivery.Response, in bytes.
const MaxDeliveryResponse = 1024

// Dead letter states.
const (
	DeadLetterDead      = "dead"      // given up on
	DeadLetterQueued    = "queued"    // redelivery asked for
	DeadLetterDelivered = "delivered" // redelivered
)

// DeadLetter is an event a subscription gave up on after its retry window.
type DeadLetter struct {
	WebhookID string    `json:"webhook_id"`
	EventSeq  int64     `json:"event_seq"`
	EventID   string    `json:"event_id"`
	EventType string    `json:"event_type"`
	Status    string    `json:"status"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
	DeadAt    time.Time `json:"dead_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DeliveryQuery lists a subscription's delivery attempts, newest first.
type DeliveryQuery struct {
	WebhookID string
	Before    int64 // only attempts with an ID below this (0: from the newest)
	Limit     int   // 0 means 100
}

// webhookReader and webhookWriter are the parts of Reader and Tx that keep
// subscriptions and their delivery state.
type webhookReader interface {
	// GetWebhook returns a subscription, its secret included; ENOTFOUND.
	GetWebhook(ctx context.Context, id string) (*Webhook, error)
	// ListWebhooks returns every subscription, oldest first.
	ListWebhooks(ctx context.Context) ([]*Webhook, error)
	// GetWebhookState returns a subscription's delivery state; ENOTFOUND.
	GetWebhookState(ctx context.Context, id string) (*WebhookState, error)
	ListDeliveries(ctx context.Context, q DeliveryQuery) ([]*Delivery, error)
	// ListDeadLetters returns up to limit of a subscription's dead letters
	// in sequence order, those in status only unless status is "".
	ListDeadLetters(ctx context.Context, webhookID, status string, limit int) ([]*DeadLetter, error)
}

type webhookWriter interface {
	// CreateWebhook inserts w and its delivery state, with the cursor at
	// the last event appended so far: the subscription receives the events
	// that commit after it, its own webhook.created included. ECONFLICT if
	// the ID is taken.
	CreateWebhook(ctx context.Context, w *Webhook) error
	// UpdateWebhook writes w's URL, secret, filter, name, format, template,
	// headers, description, active flag and updated_at, by ID; ENOTFOUND.
	UpdateWebhook(ctx context.Context, w *Webhook) error
	// DeleteWebhook deletes a subscription with its state, delivery log and
	// dead letters; ENOTFOUND.
	DeleteWebhook(ctx context.Context, id string) error
	// PutWebhookState writes a subscription's delivery state; ENOTFOUND.
	PutWebhookState(ctx context.Context, st *WebhookState) error
	// AppendDelivery records an attempt and fills d.ID, increasing.
	AppendDelivery(ctx context.Context, d *Delivery) error
	// PutDeadLetter inserts or replaces the dead letter (WebhookID, EventSeq).
	PutDeadLetter(ctx context.Context, dl *DeadLetter) error
	// SwapDeadLetter writes dl's status, attempts, last error and
	// updated_at over the dead letter (dl.WebhookID, dl.EventSeq) only if
	// that one still has prev's status, attempts and updated_at, in one
	// statement; it reports whether it wrote. False (nothing written) if
	// the letter changed since prev was read, or is gone.
	SwapDeadLetter(ctx context.Context, dl, prev *DeadLetter) (bool, error)
}
