//go:build !unix

package storetest

import "time"

// processCPU is not measured here.
func processCPU() time.Duration { return 0 }
