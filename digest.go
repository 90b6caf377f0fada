package cairn

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"
)

// Digest identifies content: "sha256:" followed by 64 lower-case hex digits.
type Digest string

const digestPrefix = "sha256:"

// ParseDigest validates s and returns it as a Digest. Upper-case hex is refused
// rather than folded so that a digest has exactly one spelling.
func ParseDigest(s string) (Digest, error) {
	hexpart, ok := strings.CutPrefix(s, digestPrefix)
	if !ok {
		return "", Errorf(EINVALID, "invalid digest %q: must start with %q", truncate(s, 80), digestPrefix)
	}
	if len(hexpart) != 64 {
		return "", Errorf(EINVALID, "invalid digest %q: want 64 hex digits, got %d characters", truncate(s, 80), len(hexpart))
	}
	for i := 0; i < len(hexpart); i++ {
		c := hexpart[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", Errorf(EINVALID, "invalid digest %q: not lower-case hex", truncate(s, 80))
		}
	}
	return Digest(s), nil
}

// Hex returns the hex part of the digest.
func (d Digest) Hex() string { return strings.TrimPrefix(string(d), digestPrefix) }

func (d Digest) String() string { return string(d) }

// DigestOf returns the digest of b.
func DigestOf(b []byte) Digest {
	sum := sha256.Sum256(b)
	return Digest(digestPrefix + hex.EncodeToString(sum[:]))
}

// Digester hashes a stream; write to it, then call Digest.
type Digester struct {
	h hash.Hash
	n int64
}

// NewDigester returns a Digester for sha256.
func NewDigester() *Digester { return &Digester{h: sha256.New()} }

func (d *Digester) Write(p []byte) (int, error) {
	d.n += int64(len(p))
	return d.h.Write(p)
}

// Digest returns the digest of everything written so far.
func (d *Digester) Digest() Digest {
	return Digest(digestPrefix + hex.EncodeToString(d.h.Sum(nil)))
}

// Size returns the number of bytes written so far.
func (d *Digester) Size() int64 { return d.n }

// EmptyDigest is the digest of zero bytes.
var EmptyDigest = DigestOf(nil)

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
