package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// isTerminal reports whether w is a character device: a terminal, as
// opposed to a file or a pipe. Progress bars are drawn only there.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress draws a one-line transfer bar on a terminal, redrawn at most a
// few times a second. It is safe for concurrent use: parallel transfers
// report into one bar.
type progress struct {
	w     io.Writer
	label string
	start time.Time

	mu    sync.Mutex
	total int64
	done  int64
	last  time.Time
	width int // of the last line drawn, to blank it
}

func newProgress(w io.Writer, label string) *progress {
	return &progress{w: w, label: label, start: time.Now()}
}

// setTotal sets the number of bytes the transfer will move.
func (p *progress) setTotal(n int64) {
	p.mu.Lock()
	p.total = n
	p.mu.Unlock()
}

// set records that done bytes have moved so far.
func (p *progress) set(done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = done
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond || p.done >= p.total {
		p.last = now
		p.draw(now)
	}
}

func (p *progress) draw(now time.Time) {
	const barWidth = 24
	var line string
	rate := ""
	if secs := now.Sub(p.start).Seconds(); secs > 0.2 {
		rate = formatBytes(int64(float64(p.done)/secs)) + "/s"
	}
	if p.total > 0 {
		frac := min(float64(p.done)/float64(p.total), 1)
		filled := int(frac * barWidth)
		line = fmt.Sprintf("%s [%s%s] %3.0f%% %s / %s %s", p.label,
			strings.Repeat("=", filled), strings.Repeat(" ", barWidth-filled),
			frac*100, formatBytes(p.done), formatBytes(p.total), rate)
	} else {
		line = fmt.Sprintf("%s %s %s", p.label, formatBytes(p.done), rate)
	}
	pad := ""
	if n := p.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.width = len(line)
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
}

// finish clears the bar so that the next message starts on a clean line.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.width > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
		p.width = 0
	}
}
