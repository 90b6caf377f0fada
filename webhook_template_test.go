package cairn_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
)

func TestWebhookTemplateRender(t *testing.T) {
	t.Parallel()
	ev := &cairn.Event{
		Seq: 42, ID: "3b5e", Type: "alias.set", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Actor: "ci-bot",
		Model: "churn", Alias: "champion",
		// A description that tries to break out of its string and inject
		// members, with HTML that must not be escaped to \u003c.
		Payload: json.RawMessage(`{"version":7,"model":"churn","note":"a\", \"injected\": \"yes","tags":{"team":"fraud"},"html":"<b>&"}`),
	}
	for _, tc := range []struct {
		name, tmpl, want string
	}{
		{"github repository_dispatch",
			`{"event_type": "cairn-{{type}}", "client_payload": {"model": "{{model}}", "version": "{{payload.version}}", "ref": "{{model}}@v{{payload.version}}", "seq": "{{seq}}"}}`,
			`{"event_type":"cairn-alias.set","client_payload":{"model":"churn","version":7,"ref":"churn@v7","seq":42}}`},
		{"slack text, values escaped",
			`{"text": "{{actor}} moved {{model}}@{{alias}}: {{payload.note}}"}`,
			`{"text":"ci-bot moved churn@champion: a\", \"injected\": \"yes"}`},
		{"whole objects", `{"tags": "{{payload.tags}}", "all": "{{payload}}"}`,
			`{"tags":{"team":"fraud"},"all":{"html":"<b>&","model":"churn","note":"a\", \"injected\": \"yes","tags":{"team":"fraud"},"version":7}}`},
		{"object inside a string", `{"text": "tags: {{payload.tags}}"}`, `{"text":"tags: {\"team\":\"fraud\"}"}`},
		{"missing fields", `{"a": "{{payload.nope.deeper}}", "b": "x{{payload.nope}}y"}`, `{"a":null,"b":"xy"}`},
		{"no HTML escaping", `{"h": "{{payload.html}}"}`, `{"h":"<b>&"}`},
		{"member order kept, literals kept", `{"z": 1, "a": [true, null, 2.5, "s"], "m": "{{ time }}"}`,
			`{"z":1,"a":[true,null,2.5,"s"],"m":"2026-01-02T03:04:05Z"}`},
		{"whole event", `["{{event}}"]`, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := cairn.ParseWebhookTemplate([]byte(tc.tmpl))
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Render(ev)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(got) {
				t.Fatalf("rendered invalid JSON %s", got)
			}
			if tc.want == "" {
				var out []cairn.Event
				if err := json.Unmarshal(got, &out); err != nil || len(out) != 1 || out[0].Seq != 42 || out[0].ID != "3b5e" {
					t.Errorf("whole event rendered %s (%v)", got, err)
				}
				return
			}
			if string(got) != tc.want {
				t.Errorf("rendered\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	// The injection attempt stays one string value.
	tmpl, err := cairn.ParseWebhookTemplate([]byte(`{"text": "{{payload.note}}"}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := tmpl.Render(ev)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil || len(m) != 1 {
		t.Errorf("rendered %s: members %v (%v); want one", got, m, err)
	}
}

func TestWebhookTemplateRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ tmpl, want string }{
		{`{"a": `, "not valid JSON"},
		{`{"a": 1} {"b": 2}`, "more than one value"},
		{`{"a": "{{type"}`, "not closed"},
		{`{"a": "{{ }}"}`, "empty field name"},
		{`{"a": "{{secret}}"}`, `template field "secret"`},
		{`{"a": "{{model.name}}"}`, "only payload and event"},
		{`{"a": "{{payload..x}}"}`, "empty field name"},
		{`"` + strings.Repeat("x", cairn.MaxWebhookTemplate) + `"`, "more than the"},
		// A template whose literal part alone renders past the body limit.
		{`["` + strings.Repeat(`{{event}}`, cairn.MaxWebhookTemplate/9-1) + `"]`, "rendered template"},
	} {
		_, err := cairn.ParseWebhookTemplate([]byte(tc.tmpl))
		if !cairn.IsCode(err, cairn.EINVALID) && !cairn.IsCode(err, cairn.ETOOLARGE) || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseWebhookTemplate(%.60s) = %v, want an error saying %q", tc.tmpl, err, tc.want)
		}
	}
	// A payload that renders too large is refused at delivery time.
	tmpl, err := cairn.ParseWebhookTemplate([]byte(`{"all": "{{payload}}"}`))
	if err != nil {
		t.Fatal(err)
	}
	big, _ := json.Marshal(map[string]string{"x": strings.Repeat("y", cairn.MaxWebhookBody)})
	if _, err := tmpl.Render(&cairn.Event{Payload: big}); !cairn.IsCode(err, cairn.ETOOLARGE) {
		t.Errorf("Render of a huge payload = %v, want too_large", err)
	}
}
