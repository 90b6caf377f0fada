package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
)

// MLflow's delivery headers.
const (
	MLflowDeliveryIDHeader = "X-MLflow-Delivery-Id"
	MLflowTimestampHeader  = "X-MLflow-Timestamp"
	MLflowSignatureHeader  = "X-MLflow-Signature"
)

// MLflowPayload is the body of an MLflow-style delivery.
type MLflowPayload struct {
	Entity string `json:"entity"`
	Action string `json:"action"`
	// Timestamp is ISO 8601 in UTC with an explicit offset, as Python's
	// datetime.isoformat writes it.
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

// SignMLflow returns the X-MLflow-Signature header of a delivery: "v1," and
// the base64 of the HMAC-SHA256, keyed with the secret's UTF-8 bytes as
// they are (no decoding), of the delivery id, the timestamp in unix
// seconds and the raw body, joined by dots.
func SignMLflow(secret, deliveryID string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(deliveryID))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// mlflowTime formats t as Python's datetime.isoformat does for an aware
// UTC time with microseconds.
func mlflowTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000") + "+00:00"
}

// mlflowDeliveryID is the X-MLflow-Delivery-Id of an event: its id in
// UUID form, so that it is the same on every retry and receivers can drop
// duplicates by it (MLflow draws a fresh uuid4 per request; a receiver
// cannot tell the difference).
func mlflowDeliveryID(ev *cairn.Event) string {
	b, err := hex.DecodeString(ev.ID)
	if err != nil || len(b) != 16 {
		b = make([]byte, 16)
		copy(b, randomBytes(16))
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// MLflow's payloads, fields in MLflow's order. Versions are strings, as
// in every MLflow API; absent optional values are null.
type (
	mlflowModelCreated struct {
		Name        string            `json:"name"`
		Tags        map[string]string `json:"tags"`
		Description *string           `json:"description"`
	}
	mlflowVersionCreated struct {
		Name        string            `json:"name"`
		Version     string            `json:"version"`
		Source      string            `json:"source"`
		RunID       *string           `json:"run_id"`
		Tags        map[string]string `json:"tags"`
		Description *string           `json:"description"`
	}
	mlflowVersionTagSet struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Key     string `json:"key"`
		Value   string `json:"value"`
	}
	mlflowVersionTagDeleted struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Key     string `json:"key"`
	}
	mlflowAliasCreated struct {
		Name    string `json:"name"`
		Alias   string `json:"alias"`
		Version string `json:"version"`
	}
	mlflowAliasDeleted struct {
		Name  string `json:"name"`
		Alias string `json:"alias"`
	}
)

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func tagsOrEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// tagState is the payload of tag.set and tag.deleted events: the target
// is a model name or a version reference NAME@vN.
type tagState struct {
	Target string `json:"target"`
	Key    string `json:"key"`
	Value  string `json:"value"`
}

// MLflowEvent translates a Cairn event into MLflow's event name
// (entity.action) and data. ok is false for events MLflow has no webhook
// event for (tags on registered models, archive, stages, approvals, …).
//
//	model.created   → registered_model.created {name, tags, description}
//	version.created → model_version.created {name, version, source, run_id, tags, description}
//	tag.set on a version     → model_version_tag.set {name, version, key, value}
//	tag.deleted on a version → model_version_tag.deleted {name, version, key}
//	alias.set       → model_version_alias.created {name, alias, version} (moves too, as MLflow)
//	alias.deleted   → model_version_alias.deleted {name, alias}
func MLflowEvent(ev *cairn.Event) (name string, data any, ok bool) {
	switch ev.Type {
	case cairn.EventModelCreated:
		var m cairn.Model
		if json.Unmarshal(ev.Payload, &m) != nil {
			return "", nil, false
		}
		return "registered_model.created", mlflowModelCreated{Name: m.Name, Tags: tagsOrEmpty(m.Tags), Description: optional(m.Description)}, true
	case cairn.EventVersionCreated:
		var v cairn.Version
		if json.Unmarshal(ev.Payload, &v) != nil {
			return "", nil, false
		}
		return "model_version.created", mlflowVersionCreated{
			Name: v.Model, Version: strconv.FormatInt(v.Number, 10), Source: v.Source, RunID: optional(v.RunID),
			Tags: tagsOrEmpty(v.Tags), Description: optional(v.Description),
		}, true
	case cairn.EventTagSet, cairn.EventTagDeleted:
		var t tagState
		if json.Unmarshal(ev.Payload, &t) != nil {
			return "", nil, false
		}
		model, version, ok := splitVersionRef(t.Target, ev.Model)
		if !ok {
			return "", nil, false // a registered model's tag: no MLflow event
		}
		if ev.Type == cairn.EventTagSet {
			return "model_version_tag.set", mlflowVersionTagSet{Name: model, Version: version, Key: t.Key, Value: t.Value}, true
		}
		return "model_version_tag.deleted", mlflowVersionTagDeleted{Name: model, Version: version, Key: t.Key}, true
	case cairn.EventAliasSet:
		var a cairn.Alias
		if json.Unmarshal(ev.Payload, &a) != nil {
			return "", nil, false
		}
		return "model_version_alias.created", mlflowAliasCreated{Name: a.Model, Alias: a.Name, Version: strconv.FormatInt(a.Version, 10)}, true
	case cairn.EventAliasDeleted:
		var a cairn.Alias
		if json.Unmarshal(ev.Payload, &a) != nil {
			return "", nil, false
		}
		return "model_version_alias.deleted", mlflowAliasDeleted{Name: a.Model, Alias: a.Name}, true
	}
	return "", nil, false
}

// splitVersionRef splits "model@vN" into the model and "N"; false if ref
// names a model, not a version.
func splitVersionRef(ref, model string) (string, string, bool) {
	rest, ok := strings.CutPrefix(ref, model+"@v")
	if !ok || model == "" {
		return "", "", false
	}
	if _, err := strconv.ParseInt(rest, 10, 64); err != nil {
		return "", "", false
	}
	return model, rest, true
}

// mlflowExample is the data of a test delivery of an MLflow event, shaped
// like the real one.
func mlflowExample(event string) (any, error) {
	desc := "An example"
	run := "abcd1234abcd5678"
	switch event {
	case "registered_model.created", "prompt.created":
		return mlflowModelCreated{Name: "example_model", Tags: map[string]string{"example_key": "example_value"}, Description: &desc}, nil
	case "model_version.created", "prompt_version.created":
		return mlflowVersionCreated{Name: "example_model", Version: "1", Source: "runs:/" + run + "/model", RunID: &run,
			Tags: map[string]string{"example_key": "example_value"}, Description: &desc}, nil
	case "model_version_tag.set", "prompt_version_tag.set", "prompt_tag.set":
		return mlflowVersionTagSet{Name: "example_model", Version: "1", Key: "example_key", Value: "example_value"}, nil
	case "model_version_tag.deleted", "prompt_version_tag.deleted", "prompt_tag.deleted":
		return mlflowVersionTagDeleted{Name: "example_model", Version: "1", Key: "example_key"}, nil
	case "model_version_alias.created", "prompt_alias.created":
		return mlflowAliasCreated{Name: "example_model", Alias: "example_alias", Version: "1"}, nil
	case "model_version_alias.deleted", "prompt_alias.deleted":
		return mlflowAliasDeleted{Name: "example_model", Alias: "example_alias"}, nil
	}
	return nil, cairn.Errorf(cairn.EINVALID, "event %q is not an MLflow webhook event", event)
}

// matches reports whether a subscription takes an event. An MLflow-style
// subscription's event types are MLflow event names, matched against the
// event's translation; its model and alias filters, if any, apply to the
// Cairn event.
func matches(w *cairn.Webhook, ev *cairn.Event) bool {
	if w.Format != cairn.WebhookMLflow {
		return w.Match(ev)
	}
	name, _, ok := MLflowEvent(ev)
	if !ok || !slices.Contains(w.Types, name) {
		return false
	}
	f := w.EventFilter
	f.Types = nil
	return f.Match(ev)
}

// mlflowBody returns the body of an MLflow-style delivery of ev.
func mlflowBody(ev *cairn.Event) ([]byte, error) {
	name, data, ok := MLflowEvent(ev)
	if !ok {
		return nil, fmt.Errorf("event %d (%s) has no MLflow form", ev.Seq, ev.Type)
	}
	entity, action, _ := strings.Cut(name, ".")
	return json.Marshal(MLflowPayload{Entity: entity, Action: action, Timestamp: mlflowTime(ev.Time), Data: data})
}
