package cairn_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
)

// ForRendering returns v as a store reads it for rendering: its fixed
// fields zero and their encoding in FixedJSON.
func forRendering(t *testing.T, v *cairn.Version) *cairn.Version {
	t.Helper()
	fixed, err := v.EncodeFixed()
	if err != nil {
		t.Fatal(err)
	}
	return &cairn.Version{
		Model: v.Model, Number: v.Number, UpdatedAt: v.UpdatedAt,
		Tags: v.Tags, Description: v.Description, Aliases: v.Aliases,
		Status: v.Status, StatusMessage: v.StatusMessage, Archived: v.Archived, Stage: v.Stage,
		DeletedAt: v.DeletedAt, Flagged: v.Flagged, Flag: v.Flag, ApprovalStatus: v.ApprovalStatus,
		FixedJSON: fixed,
	}
}

func TestAppendVersionJSONMatchesMarshal(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 11, 0, 0, 123456000, time.UTC)
	deleted := at.Add(time.Hour)
	full := func() *cairn.Version {
		return &cairn.Version{
			Model: `churn "<x>" & \ é` + "\u2028\x01\xff\x7f", Number: 42, Kind: cairn.KindModel,
			Files:  []cairn.File{{Path: "a/<b>.bin", Size: 3, Digest: cairn.DigestOf([]byte("abc"))}},
			Digest: cairn.DigestOf([]byte("m")), Size: 3,
			RunID: "r1", Source: "s3://b/k?x=1&y=<2>", SourceCodeVersion: "abcdef0",
			TrainingDataset: "ds@v3", ValidationDataset: "https://x/y",
			Metrics:      map[string]float64{"auc": 0.91, "big": 1e21, "tiny": 1e-7, "neg": -0, "updated_at": 1},
			Params:       map[string]string{"lr": "0.1", "html": "<script>&", "tags": "null"},
			Signature:    json.RawMessage(` { "inputs" : [ {"name":"x", "type":"double"} ] , "outputs": null } `),
			Dependencies: "a/<b>.bin", Framework: "sklearn", TrainedBy: "ann",
			DerivedFrom: []string{"base@v1"}, Inputs: []string{"ds@v2", "s3://x"}, Evaluates: []string{},
			RetrainedFrom: "churn@v41",
			CreatedBy:     "bob", CreatedByVerified: true, CreatedAt: at, UpdatedAt: at.Add(time.Minute),
			Tags:        map[string]string{"team": "fraud", "updated_at": "x", "k\"": "<v>"},
			Description: "# Title\n\n<b>bold</b> & more",
			Aliases:     []string{"champion", "staging"},
			Status:      cairn.StatusReady, StatusMessage: "ok", Archived: true, Stage: cairn.StageProduction,
			DeletedAt: &deleted, Flagged: true,
			Flag:           &cairn.Flag{Signal: 7, Kind: "drift", Value: 0.5, Threshold: 0.3, Detail: "<d>", FlaggedBy: "mon", FlaggedAt: at},
			ApprovalStatus: cairn.ApprovalPending,
		}
	}
	empty := func() *cairn.Version {
		return &cairn.Version{Model: "m", Number: 1, Files: []cairn.File{}, Metrics: map[string]float64{},
			Params: map[string]string{}, DerivedFrom: []string{}, Inputs: []string{}, Evaluates: []string{},
			Tags: map[string]string{}, Aliases: []string{}, Status: cairn.StatusReady, Stage: cairn.StageNone,
			ApprovalStatus: cairn.ApprovalNone}
	}
	// Every field set: a field added to Version and not to
	// AppendVersionJSON shows up as a difference.
	rv := reflect.ValueOf(full()).Elem()
	for i := range rv.NumField() {
		if name := rv.Type().Field(i).Name; rv.Field(i).IsZero() && name != "FixedJSON" {
			t.Fatalf("the fixture leaves %s unset", name)
		}
	}
	for name, v := range map[string]*cairn.Version{
		"every field": full(),
		"empty":       empty(),
		"nil maps":    {Model: "m", Number: 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := cairn.AppendVersionJSON([]byte("prefix"), forRendering(t, v))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "prefix"+string(want) {
				t.Errorf("rendered from FixedJSON:\n%s\nwant json.Marshal's:\n%s", got[len("prefix"):], want)
			}
			slow, err := cairn.AppendVersionJSON(nil, v)
			if err != nil || string(slow) != string(want) {
				t.Errorf("rendered without FixedJSON: %s, %v; want %s", slow, err, want)
			}
		})
	}
}

func TestZeroFixed(t *testing.T) {
	t.Parallel()
	// A version read for rendering whose FixedJSON is the zero version's
	// renders as the zero version: the constant the renderer looks for is
	// what EncodeFixed makes of zero fields.
	zero := &cairn.Version{}
	want, _ := json.Marshal(zero)
	got, err := cairn.AppendVersionJSON(nil, forRendering(t, zero))
	if err != nil || string(got) != string(want) {
		t.Fatalf("got %s, %v; want %s", got, err, want)
	}
	// Fixed fields left set on a version read for rendering are a bug in
	// the store, reported rather than rendered twice.
	bad := forRendering(t, zero)
	bad.Digest = "sha256:x"
	if _, err := cairn.AppendVersionJSON(nil, bad); !cairn.IsCode(err, cairn.EINTERNAL) {
		t.Errorf("fixed fields set and FixedJSON: %v, want internal", err)
	}
}

// Any strings render as json.Marshal writes them, escapes and invalid
// UTF-8 included.
func FuzzAppendVersionJSON(f *testing.F) {
	f.Add("churn", "team", "fraud", "desc", "champion")
	f.Add("a<b>&c", "k\"\\", "\u2028\u2029", "\x00\x1f\x7f\xff", "é")
	f.Fuzz(func(t *testing.T, model, key, value, desc, alias string) {
		at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
		v := &cairn.Version{Model: model, Number: 3, Kind: cairn.KindModel, Files: []cairn.File{},
			Metrics: map[string]float64{key: 1}, Params: map[string]string{key: value},
			CreatedBy: value, CreatedAt: at, UpdatedAt: at, Tags: map[string]string{key: value, desc: alias},
			Description: desc, Aliases: []string{alias}, Status: cairn.StatusReady, StatusMessage: value,
			Stage: cairn.Stage(alias), ApprovalStatus: key}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cairn.AppendVersionJSON(nil, forRendering(t, v))
		if err != nil || string(got) != string(want) {
			t.Fatalf("rendered %s, %v\nwant     %s", got, err, want)
		}
	})
}
