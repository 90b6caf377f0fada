// Package mlmodel reads MLflow's MLmodel file, the YAML document at the
// root of every logged MLflow model that names its flavors (the framework
// that saved it and how to load it) and its signature. It is Cairn's one
// YAML dependency (go.yaml.in/yaml/v3); the MLflow front door uses it to
// fill a registered version's record from the files it snapshots.
package mlmodel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// MaxSize bounds an MLmodel file; real ones are a few kilobytes, their
// signature included.
const MaxSize = 1 << 20

// FileName is the name of the file at the root of a model directory.
const FileName = "MLmodel"

// pyfunc is the generic flavor every Python model carries beside its own.
const pyfunc = "python_function"

// Model is what Cairn reads from an MLmodel file.
type Model struct {
	// Flavors lists the flavor names in document order (sklearn,
	// python_function, …).
	Flavors []string
	// Signature is the model's signature as Cairn's version record keeps
	// it: {"inputs": …, "outputs": …, "params": …}, each member the JSON
	// value MLflow stores as a JSON string in the YAML; nil if the file has
	// none.
	Signature json.RawMessage
	// RunID and ModelID are the run that logged the model and, for MLflow
	// 3, its logged model id; "" when absent.
	RunID   string
	ModelID string
}

// Framework returns the flavor that names the framework: the first flavor
// other than python_function, or python_function if that is all there is
// (a custom pyfunc model); "" without flavors.
func (m *Model) Framework() string {
	for _, f := range m.Flavors {
		if f != pyfunc {
			return f
		}
	}
	if len(m.Flavors) > 0 {
		return m.Flavors[0]
	}
	return ""
}

// file is the part of the MLmodel document Cairn reads.
type file struct {
	Flavors   yaml.Node         `yaml:"flavors"`
	Signature map[string]string `yaml:"signature"`
	RunID     string            `yaml:"run_id"`
	ModelID   string            `yaml:"model_id"`
}

// Parse reads an MLmodel document from r (at most MaxSize bytes). It
// returns an error for a document that is not YAML, has flavors that are
// not a mapping, or a signature member that is not a JSON document.
func Parse(r io.Reader) (*Model, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read MLmodel: %w", err)
	}
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("MLmodel is larger than %d bytes", MaxSize)
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&f); err != nil && err != io.EOF {
		return nil, fmt.Errorf("MLmodel is not a YAML document of the expected shape: %w", err)
	}
	m := &Model{RunID: f.RunID, ModelID: f.ModelID}
	switch f.Flavors.Kind {
	case 0: // absent
	case yaml.MappingNode:
		for i := 0; i+1 < len(f.Flavors.Content); i += 2 {
			m.Flavors = append(m.Flavors, f.Flavors.Content[i].Value)
		}
	default:
		return nil, fmt.Errorf("MLmodel: flavors is not a mapping")
	}
	if len(f.Signature) > 0 {
		sig := map[string]json.RawMessage{}
		for _, k := range []string{"inputs", "outputs", "params"} {
			v, ok := f.Signature[k]
			if !ok || v == "" {
				continue
			}
			if !json.Valid([]byte(v)) {
				return nil, fmt.Errorf("MLmodel: signature %s is not JSON", k)
			}
			sig[k] = json.RawMessage(v)
		}
		if _, ok := sig["inputs"]; ok {
			if m.Signature, err = json.Marshal(sig); err != nil {
				return nil, fmt.Errorf("MLmodel: encode signature: %w", err)
			}
		}
	}
	return m, nil
}
