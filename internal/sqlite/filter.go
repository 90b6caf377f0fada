package sqlite

import (
	"encoding/base64"
	"strconv"

	"github.com/cairn-registry/cairn"
)

// TEMPORARY until internal/sqlfilter lands: default orders only.

type compiled struct {
	Where   string
	Args    []any
	OrderBy string
}

func compileModels(f *cairn.Filter, order []cairn.OrderBy) (*compiled, error) {
	if f != nil || len(order) > 0 {
		return nil, cairn.Errorf(cairn.EINVALID, "filters are not supported yet")
	}
	return &compiled{OrderBy: "m.name ASC"}, nil
}

func compileVersions(f *cairn.Filter, order []cairn.OrderBy) (*compiled, error) {
	if f != nil || len(order) > 0 {
		return nil, cairn.Errorf(cairn.EINVALID, "filters are not supported yet")
	}
	return &compiled{OrderBy: "m.name ASC, v.number DESC"}, nil
}

func encodeOffset(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(n)))
}

func decodeOffset(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, cairn.Errorf(cairn.EINVALID, "invalid page token")
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 {
		return 0, cairn.Errorf(cairn.EINVALID, "invalid page token")
	}
	return n, nil
}
