package client

import (
	"context"
	"sync"
)

// pool runs tasks on a fixed number of workers. After the first task
// error it starts no further task, but lets the running ones finish: for
// resumable uploads every part that completes is a part a retry need not
// send again. Tasks get the caller's context, so cancelling that stops
// everything at once. wait returns the first error.
type pool struct {
	ctx   context.Context
	tasks chan func(context.Context) error
	stop  chan struct{} // closed on the first error
	wg    sync.WaitGroup

	mu  sync.Mutex
	err error
}

func newPool(ctx context.Context, workers int) *pool {
	p := &pool{ctx: ctx, tasks: make(chan func(context.Context) error), stop: make(chan struct{})}
	for range max(workers, 1) {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for task := range p.tasks {
				if p.failed() || ctx.Err() != nil {
					continue // drain
				}
				if err := task(ctx); err != nil {
					p.fail(err)
				}
			}
		}()
	}
	return p
}

func (p *pool) failed() bool {
	select {
	case <-p.stop:
		return true
	default:
		return false
	}
}

// fail records err (if it is the first) and stops dispatching.
func (p *pool) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
		close(p.stop)
	}
}

// submit queues a task; false if the pool has failed or the context ended,
// in which case the task will not run.
func (p *pool) submit(task func(context.Context) error) bool {
	select {
	case p.tasks <- task:
		return true
	case <-p.stop:
		return false
	case <-p.ctx.Done():
		return false
	}
}

// wait stops accepting tasks, waits for the running ones and returns the
// first error, or the context's if it ended first.
func (p *pool) wait() error {
	close(p.tasks)
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	return p.ctx.Err()
}
