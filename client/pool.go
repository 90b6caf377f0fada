package client

import (
	"context"
	"sync"
)

// pool runs tasks on a fixed number of workers. The first task error
// cancels the pool's context; later tasks are skipped, and wait returns
// that first error.
type pool struct {
	ctx    context.Context
	cancel context.CancelFunc
	tasks  chan func(context.Context) error
	wg     sync.WaitGroup

	mu  sync.Mutex
	err error
}

func newPool(ctx context.Context, workers int) *pool {
	ctx, cancel := context.WithCancel(ctx)
	p := &pool{ctx: ctx, cancel: cancel, tasks: make(chan func(context.Context) error)}
	for range max(workers, 1) {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for task := range p.tasks {
				if p.ctx.Err() != nil {
					continue // drain: a task failed or the caller gave up
				}
				if err := task(p.ctx); err != nil {
					p.fail(err)
				}
			}
		}()
	}
	return p
}

func (p *pool) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	p.cancel()
}

// submit queues a task; false if the pool has failed (or its context
// ended), in which case the task will not run.
func (p *pool) submit(task func(context.Context) error) bool {
	select {
	case p.tasks <- task:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// wait stops accepting tasks, waits for the running ones and returns the
// first error, or the context's if it ended first.
func (p *pool) wait() error {
	close(p.tasks)
	p.wg.Wait()
	defer p.cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	return p.ctx.Err()
}
