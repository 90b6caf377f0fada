package mlflowapi

import (
	"encoding/json"
	"testing"
)

// modelWith returns a registered model with every field set from s, t
// (and, when full, every optional field too), with one latest version
// likewise.
func modelWith(s, t string, full bool) registeredModel {
	v := modelVersion{Name: s, Version: t, CreationTimestamp: -1, LastUpdatedTimestamp: 1 << 60, CurrentStage: s, Status: t}
	m := registeredModel{Name: s, CreationTimestamp: 1732000000000, LastUpdatedTimestamp: 0}
	if full {
		v.UserID, v.Description, v.Source, v.RunID, v.StatusMessage, v.RunLink, v.ModelID = s, t, s, t, s, t, s
		v.Tags, v.Aliases = []keyValue{{s, t}, {t, s}}, []string{s, t}
		m.UserID, m.Description = t, s
		m.LatestVersions = []modelVersion{v, v}
		m.Tags, m.Aliases = []keyValue{{t, s}}, []modelAlias{{s, t}, {t, s}}
	} else {
		m.LatestVersions, m.Tags, m.Aliases = []modelVersion{v}, []keyValue{}, []modelAlias{}
	}
	return m
}

// appendRegisteredModel writes what json.Marshal writes, escapes, empty
// and omitted fields included.
func TestAppendMatchesMarshal(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "churn", `a"b\c`, "<b>&amp;", "café", "\u2028\x00\n", "\xff\xfe", "tab\there"} {
		for _, full := range []bool{false, true} {
			checkAppend(t, modelWith(s, "v1", full))
			checkAppend(t, modelWith("prod", s, full))
		}
	}
	checkAppend(t, registeredModel{})
}

func FuzzAppendRegisteredModel(f *testing.F) {
	f.Add("churn", "Production", true)
	f.Add("<&>", "\xff", false)
	f.Fuzz(func(t *testing.T, s, u string, full bool) { checkAppend(t, modelWith(s, u, full)) })
}

func checkAppend(t *testing.T, m registeredModel) {
	t.Helper()
	want, err := json.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendRegisteredModel(nil, &m); string(got) != string(want) {
		t.Errorf("appendRegisteredModel:\n got %s\nwant %s", got, want)
	}
}
