package mlmodel_test

import (
	"strings"
	"testing"

	"github.com/cairn-registry/cairn/internal/mlmodel"
)

// An MLmodel file as mlflow.sklearn.log_model writes it (MLflow 2.x and
// 3.x), signature included.
const sklearnMLmodel = `artifact_path: model
flavors:
  sklearn:
    code: null
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.5.2
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    predict_fn: predict
    python_version: 3.11.10
mlflow_version: 2.17.2
model_size_bytes: 1017
model_uuid: 6c5d3e0f8e2a4b8f9f0b1f8c2d7e4a11
run_id: 0123456789abcdef0123456789abcdef
model_id: m-0123456789abcdef0123456789abcdef
signature:
  inputs: '[{"type": "double", "name": "x", "required": true}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'
  params: null
utc_time_created: '2026-11-26 08:00:00.000000'
`

func TestParse(t *testing.T) {
	m, err := mlmodel.Parse(strings.NewReader(sklearnMLmodel))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Flavors, ","); got != "sklearn,python_function" || m.Framework() != "sklearn" {
		t.Errorf("flavors %q, framework %q", got, m.Framework())
	}
	want := `{"inputs":[{"type":"double","name":"x","required":true}],"outputs":[{"type":"tensor","tensor-spec":{"dtype":"int64","shape":[-1]}}]}`
	if string(m.Signature) != want {
		t.Errorf("signature\n%s\nwant\n%s", m.Signature, want)
	}
	if m.RunID != "0123456789abcdef0123456789abcdef" || m.ModelID != "m-0123456789abcdef0123456789abcdef" {
		t.Errorf("run %q model %q", m.RunID, m.ModelID)
	}
}

func TestParseShapes(t *testing.T) {
	for _, tc := range []struct {
		name, doc, framework string
		signature            bool
		bad                  bool
	}{
		{"pyfunc only", "flavors:\n  python_function: {loader_module: m}\n", "python_function", false, false},
		{"no flavors", "run_id: r\n", "", false, false},
		{"empty", "", "", false, false},
		{"flavors a list", "flavors: [a, b]\n", "", false, true},
		{"not yaml", "flavors: {a: [}\n", "", false, true},
		{"signature not json", "signature:\n  inputs: 'not json'\n", "", false, true},
		{"signature without inputs", "signature:\n  outputs: '[]'\n", "", false, false},
		{"a document not a mapping", "- a\n- b\n", "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := mlmodel.Parse(strings.NewReader(tc.doc))
			if tc.bad {
				if err == nil {
					t.Fatalf("Parse accepted %q", tc.doc)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Framework() != tc.framework || (m.Signature != nil) != tc.signature {
				t.Errorf("framework %q signature %s", m.Framework(), m.Signature)
			}
		})
	}
	big := strings.Repeat("#", mlmodel.MaxSize+1)
	if _, err := mlmodel.Parse(strings.NewReader(big)); err == nil {
		t.Error("Parse accepted a file over MaxSize")
	}
}
