package fsblob

import (
	"bytes"
	"os"
	"testing"

	"github.com/cairn-registry/cairn"
)

// TestPartTooLarge lowers the part limit (5 GiB would be slow to send) and
// checks that an oversized part is refused and leaves nothing behind.
func TestPartTooLarge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.maxPartSize = 1 << 20
	ctx := t.Context()
	key, err := s.StartUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutPart(ctx, key, 1, bytes.NewReader(make([]byte, 1<<20+1))); !cairn.IsCode(err, cairn.ETOOLARGE) {
		t.Fatalf("PutPart over the limit: %v, want code %s", err, cairn.ETOOLARGE)
	}
	for _, sub := range []string{tmpDir, uploadsDir + "/" + key} {
		if left, err := os.ReadDir(dir + "/" + sub); err != nil || len(left) != 0 {
			t.Errorf("%s after a refused part: %v, %v; want empty", sub, left, err)
		}
	}
	p, err := s.PutPart(ctx, key, 1, bytes.NewReader(make([]byte, 1<<20)))
	if err != nil {
		t.Fatalf("PutPart at the limit: %v", err)
	}
	if p.Size != 1<<20 {
		t.Errorf("part size %d, want %d", p.Size, 1<<20)
	}
}
