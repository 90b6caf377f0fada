package sqlite

import (
	"testing"
)

// BulkMode sets the write connection's page cache and statement journals
// for a bulk load, and its restore function sets them back.
func TestBulkMode(t *testing.T) {
	t.Parallel()
	db, _ := openTest(t)
	ctx := t.Context()
	pragmas := func() (cache, temp int64) {
		t.Helper()
		if err := db.write.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cache); err != nil {
			t.Fatal(err)
		}
		if err := db.write.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&temp); err != nil {
			t.Fatal(err)
		}
		return cache, temp
	}
	cache0, temp0 := pragmas()
	restore, err := db.BulkMode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cache, temp := pragmas(); cache != -64*1024 || temp != 2 {
		t.Errorf("in bulk mode cache_size = %d, temp_store = %d; want -65536, 2", cache, temp)
	}
	if err := restore(ctx); err != nil {
		t.Fatal(err)
	}
	if cache, temp := pragmas(); cache != cache0 || temp != temp0 {
		t.Errorf("after restore cache_size = %d, temp_store = %d; want %d, %d as before", cache, temp, cache0, temp0)
	}
}
