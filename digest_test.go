package cairn

import (
	"io"
	"strings"
	"testing"
)

func TestParseDigest(t *testing.T) {
	t.Parallel()
	valid := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		in   string
		ok   bool
		want string
	}{
		{valid, true, ""},
		{string(EmptyDigest), true, ""},
		{"", false, `must start with "sha256:"`},
		{"sha256", false, `must start with "sha256:"`},
		{"SHA256:" + valid[7:], false, `must start with "sha256:"`},
		{"sha512:" + valid[7:], false, `must start with "sha256:"`},
		{strings.Repeat("0123456789abcdef", 4), false, `must start with "sha256:"`},
		{"sha256:", false, "want 64 hex digits, got 0 characters"},
		{valid[:len(valid)-1], false, "want 64 hex digits, got 63 characters"},
		{valid + "0", false, "want 64 hex digits, got 65 characters"},
		{"sha256:" + strings.ToUpper(valid[7:]), false, "not lower-case hex"},
		{"sha256:" + strings.Repeat("g", 64), false, "not lower-case hex"},
		{" " + valid, false, "must start with"},
		{valid[:69] + "é", false, "not lower-case hex"},
	}
	for _, tt := range tests {
		d, err := ParseDigest(tt.in)
		if tt.ok {
			if err != nil || string(d) != tt.in {
				t.Errorf("ParseDigest(%q) = %q, %v; want it back", tt.in, d, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParseDigest(%q) = %q; want an error", tt.in, d)
			continue
		}
		if !IsCode(err, EINVALID) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseDigest(%q) error %q (%s); want invalid containing %q", tt.in, err, ErrorCodeOf(err), tt.want)
		}
	}
}

func TestDigestOf(t *testing.T) {
	t.Parallel()
	// Known answers from FIPS 180-2.
	if got, want := DigestOf([]byte("abc")), Digest("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"); got != want {
		t.Errorf("DigestOf(abc) = %s; want %s", got, want)
	}
	if want := Digest("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"); EmptyDigest != want || DigestOf(nil) != want {
		t.Errorf("EmptyDigest = %s; want %s", EmptyDigest, want)
	}
	d := DigestOf([]byte("abc"))
	if d.Hex() != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" || d.String() != string(d) {
		t.Errorf("Hex() = %q, String() = %q", d.Hex(), d.String())
	}
	if _, err := ParseDigest(string(d)); err != nil {
		t.Errorf("DigestOf produced an unparsable digest: %v", err)
	}
}

func TestDigester(t *testing.T) {
	t.Parallel()
	data := strings.Repeat("cairn model registry ", 10_000)
	dg := NewDigester()
	if dg.Digest() != EmptyDigest || dg.Size() != 0 {
		t.Fatalf("new Digester: %s, %d bytes; want the empty digest", dg.Digest(), dg.Size())
	}
	// Uneven writes must give the same digest as one call.
	n, err := io.CopyBuffer(dg, strings.NewReader(data), make([]byte, 4093))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("copy: %d, %v", n, err)
	}
	if got, want := dg.Digest(), DigestOf([]byte(data)); got != want {
		t.Errorf("Digester = %s; want %s", got, want)
	}
	if dg.Size() != int64(len(data)) {
		t.Errorf("Size() = %d; want %d", dg.Size(), len(data))
	}
	// Digest does not reset the state.
	dg.Write([]byte("x"))
	if got, want := dg.Digest(), DigestOf([]byte(data+"x")); got != want || dg.Size() != int64(len(data)+1) {
		t.Errorf("after one more byte: %s, %d; want %s, %d", got, dg.Size(), want, len(data)+1)
	}
}
