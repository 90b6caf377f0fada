package mlflowapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// Run inputs and outputs: runs/log-inputs (datasets, MLflow 3 model
// inputs), runs/outputs (MLflow 3 logged models a run produced) and the
// legacy runs/log-model (MLflow 2 records each logged model's MLmodel as
// JSON in the run tag mlflow.log-model.history). What is recorded is part
// of the run (registry.LogRunInputs, LogRunOutputs, RecordLoggedModel), so
// lineage and the native API read it from there.

func (s *Server) logInputs(w http.ResponseWriter, r *http.Request) error {
	p, run, err := s.readRun(w, r)
	if err != nil {
		return err
	}
	var datasets []struct {
		Tags    []keyValue `json:"tags"`
		Dataset *struct {
			Name       string `json:"name"`
			Digest     string `json:"digest"`
			SourceType string `json:"source_type"`
			Source     string `json:"source"`
			Schema     string `json:"schema"`
			Profile    string `json:"profile"`
		} `json:"dataset"`
	}
	if raw := p.raw("datasets"); raw != nil {
		if err := json.Unmarshal(raw, &datasets); err != nil {
			return badType("datasets", raw)
		}
	}
	var models []modelIDJSON
	if raw := p.raw("models"); raw != nil {
		if err := json.Unmarshal(raw, &models); err != nil {
			return badType("models", raw)
		}
	}
	if err := batchLimit("datasets", 1000, len(datasets)); err != nil {
		return err
	}
	in := registry.RunInputs{}
	for _, d := range datasets {
		if d.Dataset == nil {
			return missing("datasets.dataset")
		}
		for _, f := range []struct{ name, v string }{{"name", d.Dataset.Name}, {"digest", d.Dataset.Digest}, {"source_type", d.Dataset.SourceType}, {"source", d.Dataset.Source}} {
			if f.v == "" {
				return missing("dataset." + f.name)
			}
		}
		tags := map[string]string{}
		for _, t := range d.Tags {
			if t.Key == "" {
				return missing("tags.key")
			}
			tags[t.Key] = t.Value
		}
		in.Datasets = append(in.Datasets, cairn.DatasetInput{
			Name: d.Dataset.Name, Digest: d.Dataset.Digest, SourceType: d.Dataset.SourceType, Source: d.Dataset.Source,
			Schema: d.Dataset.Schema, Profile: d.Dataset.Profile, Tags: tags,
		})
	}
	for _, m := range models {
		if m.ModelID == "" {
			return missing("models.model_id")
		}
		in.Models = append(in.Models, m.ModelID)
	}
	if len(in.Datasets)+len(in.Models) > 0 {
		if err := s.svc.LogRunInputs(r.Context(), run.ID, in); err != nil {
			return err
		}
	}
	return writeJSON(w, empty)
}

func (s *Server) logOutputs(w http.ResponseWriter, r *http.Request) error {
	p, run, err := s.readRun(w, r)
	if err != nil {
		return err
	}
	var models []struct {
		ModelID string          `json:"model_id"`
		Step    json.RawMessage `json:"step"`
	}
	if raw := p.raw("models"); raw != nil {
		if err := json.Unmarshal(raw, &models); err != nil {
			return badType("models", raw)
		}
	}
	var outs []cairn.ModelOutput
	for _, m := range models {
		if m.ModelID == "" {
			return missing("models.model_id")
		}
		step := int64(0)
		if len(m.Step) > 0 && string(m.Step) != "null" {
			n, ok := parseIntJSON(m.Step)
			if !ok {
				return badType("models.step", m.Step)
			}
			step = n
		}
		outs = append(outs, cairn.ModelOutput{ModelID: m.ModelID, Step: step})
	}
	if len(outs) > 0 {
		if err := s.svc.LogRunOutputs(r.Context(), run.ID, outs); err != nil {
			return err
		}
	}
	return writeJSON(w, empty)
}

func (s *Server) logModel(w http.ResponseWriter, r *http.Request) error {
	p, run, err := s.readRun(w, r)
	if err != nil {
		return err
	}
	modelJSON, err := p.str("model_json")
	if err != nil {
		return err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(modelJSON), &obj); err != nil || obj == nil {
		return invalidParam("Malformed model info. \n %s \n is not a valid JSON.", truncate(modelJSON, 1000))
	}
	for _, f := range []string{"artifact_path", "flavors", "utc_time_created", "run_id"} {
		if _, ok := obj[f]; !ok {
			return invalidParam("Model json is missing mandatory fields: [%s]", strings.Join(missingFields(obj), ", "))
		}
	}
	if err := s.svc.RecordLoggedModel(r.Context(), run.ID, json.RawMessage(modelJSON)); err != nil {
		return err
	}
	return writeJSON(w, empty)
}

func missingFields(obj map[string]json.RawMessage) []string {
	var out []string
	for _, f := range []string{"artifact_path", "flavors", "utc_time_created", "run_id"} {
		if _, ok := obj[f]; !ok {
			out = append(out, "'"+f+"'")
		}
	}
	return out
}
