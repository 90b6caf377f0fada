package cairn

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

// checkValidation runs one validation case: err must be nil when ok, and an
// EINVALID error containing want otherwise.
func checkValidation(t *testing.T, what string, err error, ok bool, want string) {
	t.Helper()
	if ok {
		if err != nil {
			t.Errorf("%s: unexpected error %v", what, err)
		}
		return
	}
	if err == nil {
		t.Errorf("%s: no error; want one containing %q", what, want)
		return
	}
	if !IsCode(err, EINVALID) {
		t.Errorf("%s: code %q; want invalid (%v)", what, ErrorCodeOf(err), err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("%s: error %q; want it to contain %q", what, err, want)
	}
}

func TestValidateModelName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
		want string
	}{
		{"churn", true, ""},
		{"Churn-EU_v2.onnx", true, ""},
		{"fraud detector", true, ""},
		{"模型", true, ""},
		{"latest", true, ""}, // names may be reserved words; only aliases may not
		{"v1", true, ""},
		{"...", true, ""},
		{"%*[x]", true, ""},
		{strings.Repeat("x", MaxNameLength), true, ""},
		{strings.Repeat("é", MaxNameLength), true, ""}, // 256 characters, 512 bytes
		{"", false, "model name must not be empty"},
		{strings.Repeat("x", MaxNameLength+1), false, "model name is 257 characters long; the limit is 256"},
		{"team/churn", false, `must not contain '/'`},
		{"s3:churn", false, `must not contain ':'`},
		{"churn@v1", false, `must not contain '@'`},
		{"a\x00b", false, "control characters"},
		{"a\tb", false, "control characters"},
		{"a\u0085b", false, "control characters"},
		{"a\ufffdb", false, "control characters"},
		{"a\xffb", false, "must be valid UTF-8"},
		{" churn", false, "must not start or end with white space"},
		{"churn\u00a0", false, "must not start or end with white space"},
		{".", false, `invalid model name "."`},
		{"..", false, `invalid model name ".."`},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(truncate(tt.name, 20)), func(t *testing.T) {
			t.Parallel()
			checkValidation(t, "ValidateModelName", ValidateModelName(tt.name), tt.ok, tt.want)
		})
	}
}

func TestValidateAliasName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
		want string
	}{
		{"champion", true, ""},
		{"prod_1", true, ""},
		{"blue-green", true, ""},
		{"A", true, ""},
		{"v", true, ""},
		{"v1a", true, ""},
		{"version1", true, ""},
		{"latest1", true, ""},
		{"v-1", true, ""},
		{strings.Repeat("a", MaxAliasLength), true, ""},
		{"latest", false, `alias name "latest" is reserved`},
		{"LATEST", false, `alias name "LATEST" is reserved`},
		{"Latest", false, "is reserved"},
		{"v1", false, `alias name "v1" is reserved`},
		{"V12", false, `alias name "V12" is reserved`},
		{"v0", false, "is reserved"},
		{"v007", false, "is reserved"},
		{"", false, "alias name must not be empty"},
		{strings.Repeat("a", MaxAliasLength+1), false, "alias name is 256 characters long; the limit is 255"},
		{"has space", false, "use letters, digits, '_' and '-' only"},
		{"a.b", false, "use letters, digits"},
		{"a@b", false, "use letters, digits"},
		{"é", false, "use letters, digits"},
		{"a\nb", false, "use letters, digits"},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(truncate(tt.name, 20)), func(t *testing.T) {
			t.Parallel()
			checkValidation(t, "ValidateAliasName", ValidateAliasName(tt.name), tt.ok, tt.want)
		})
	}
}

func TestValidateTags(t *testing.T) {
	t.Parallel()
	many := map[string]string{}
	for i := range MaxTags + 1 {
		many["k"+strconv.Itoa(i)] = "v"
	}
	tests := []struct {
		name string
		tags map[string]string
		ok   bool
		want string
	}{
		{"nil", nil, true, ""},
		{"plain", map[string]string{"team": "fraud", "mlflow.prompt.is_prompt": "true", "my key/x:y-z_0": ""}, true, ""},
		{"long value", map[string]string{"k": strings.Repeat("v", MaxTagValueLength)}, true, ""},
		{"empty key", map[string]string{"": "v"}, false, "tag key must not be empty"},
		{"bad key", map[string]string{"a!b": "v"}, false, `invalid tag key "a!b"`},
		{"quote in key", map[string]string{`a"b`: "v"}, false, "invalid tag key"},
		{"backtick in key", map[string]string{"a`b": "v"}, false, "invalid tag key"},
		{"long key", map[string]string{strings.Repeat("k", MaxTagKeyLength+1): "v"}, false, "tag key is 251 characters long"},
		{"long value", map[string]string{"k": strings.Repeat("v", MaxTagValueLength+1)}, false, `tag "k": value is 5001 bytes long`},
		{"invalid UTF-8 value", map[string]string{"k": "\xff"}, false, `tag "k": value must be valid UTF-8`},
		{"too many", many, false, "101 tags given; the limit is 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkValidation(t, "ValidateTags", ValidateTags(tt.tags), tt.ok, tt.want)
		})
	}
}

func TestValidateMetricsAndParams(t *testing.T) {
	t.Parallel()
	manyM := map[string]float64{}
	manyP := map[string]string{}
	for i := range MaxMetricsOrParams + 1 {
		manyM["m"+strconv.Itoa(i)] = 1
		manyP["p"+strconv.Itoa(i)] = "1"
	}
	tests := []struct {
		name string
		err  error
		ok   bool
		want string
	}{
		{"metrics", ValidateMetrics(map[string]float64{"auc": 0.9, "f1 score": -1, "big": math.MaxFloat64}), true, ""},
		{"NaN", ValidateMetrics(map[string]float64{"auc": math.NaN()}), false, `metric "auc": value must be a finite number`},
		{"+Inf", ValidateMetrics(map[string]float64{"auc": math.Inf(1)}), false, "must be a finite number"},
		{"-Inf", ValidateMetrics(map[string]float64{"auc": math.Inf(-1)}), false, "must be a finite number"},
		{"bad metric key", ValidateMetrics(map[string]float64{"a|b": 1}), false, `invalid metric name "a|b"`},
		{"too many metrics", ValidateMetrics(manyM), false, "1001 metrics given; the limit is 1000"},
		{"params", ValidateParams(map[string]string{"lr": "0.1", "layers": strings.Repeat("x", MaxParamValueLength)}), true, ""},
		{"long param", ValidateParams(map[string]string{"lr": strings.Repeat("x", MaxParamValueLength+1)}), false, `param "lr": value is 6001 bytes long`},
		{"invalid UTF-8 param", ValidateParams(map[string]string{"lr": "\xc3"}), false, "must be valid UTF-8"},
		{"empty param key", ValidateParams(map[string]string{"": "1"}), false, "param name must not be empty"},
		{"too many params", ValidateParams(manyP), false, "1001 params given; the limit is 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkValidation(t, tt.name, tt.err, tt.ok, tt.want)
		})
	}
}

func TestValidateTextAndDescription(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		ok   bool
		want string
	}{
		{"text", ValidateText("source", "s3://bucket/model dir/é"), true, ""},
		{"empty text", ValidateText("source", ""), true, ""},
		{"max text", ValidateText("run_id", strings.Repeat("r", MaxFieldLength)), true, ""},
		{"long text", ValidateText("run_id", strings.Repeat("r", MaxFieldLength+1)), false, "run_id is 1025 bytes long; the limit is 1024"},
		{"newline", ValidateText("framework", "a\nb"), false, "framework must not contain control characters"},
		{"invalid UTF-8 text", ValidateText("source", "\xff"), false, "source must be valid UTF-8"},
		{"description", ValidateDescription("# Churn\n\nMarkdown, with\ttabs."), true, ""},
		{"max description", ValidateDescription(strings.Repeat("d", MaxDescriptionLength)), true, ""},
		{"long description", ValidateDescription(strings.Repeat("d", MaxDescriptionLength+1)), false, "description is 65537 bytes long"},
		{"NUL description", ValidateDescription("a\x00"), false, "description must not contain NUL"},
		{"invalid UTF-8 description", ValidateDescription("\xff"), false, "description must be valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkValidation(t, tt.name, tt.err, tt.ok, tt.want)
		})
	}
}
