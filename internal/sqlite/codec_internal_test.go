package sqlite

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decodeTags gives what encoding/json gives, whether its hand-split fast
// path takes the text or not.
func FuzzDecodeTags(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"team":"fraud"}`, `{"env":"prod","team":"fraud"}`, `{"":""}`, `{"a":"1","a":"2"}`,
		`{"k":"caf\u00e9"}`, `{"k":"line\nbreak"}`, `{"k":"\u003cb\u003e"}`, `{"k":"é"}`,
		`{ "k" : "v" }`, `{"k":1}`, `{"k":"v",}`, `{"k":"v"`, `{"k""v"}`, `{"k":"v"}x`, `{"k":"\xff"}`,
		`{"k":"v"},`, `{"k":null}`, `[]`, ``, `{`, `}`, `{"`, `{"k":"v","`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := map[string]string{}
		werr := json.Unmarshal([]byte(s), &want)
		got, err := decodeTags("tags", s)
		if (err != nil) != (werr != nil) {
			t.Fatalf("decodeTags(%q): error %v, encoding/json's %v", s, err, werr)
		}
		if err != nil {
			return
		}
		if got == nil {
			t.Fatalf("decodeTags(%q) = nil map", s)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("decodeTags(%q) (-encoding/json +got):\n%s", s, diff)
		}
	})
}
