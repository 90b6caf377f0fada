package sqlite

import "context"

// gate admits at most cap(g) callers at a time and makes the others wait
// in the order they came. It stands in front of each connection pool, with
// as many places as the pool has connections, so that database/sql never
// has a waiter: when a connection comes back, database/sql hands it to a
// waiting request chosen at random, and under load (32 requests on 4 read
// connections) a random choice leaves some requests waiting many turns,
// which shows as a p99 several times the median. A channel's blocked
// senders are woken first in, first out.
type gate chan struct{}

func newGate(n int) gate { return make(gate, n) }

// enter waits for a place; it fails, having taken none, when ctx ends
// first.
func (g gate) enter(ctx context.Context) error {
	select {
	case g <- struct{}{}:
		return nil
	default:
	}
	select {
	case g <- struct{}{}:
		return nil
	case <-ctx.Done():
		return translate(ctx.Err(), "wait for a database connection")
	}
}

// leave gives the place back.
func (g gate) leave() { <-g }
