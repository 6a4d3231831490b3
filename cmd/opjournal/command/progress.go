package command

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress is a progress bar on a terminal. A nil *progress draws nothing:
// that is what newProgress returns when w is not a terminal, so output
// redirected to a file or a pipe carries no bar.
type progress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

// newProgress returns a bar counting to total (bytes if bytes is set,
// records otherwise) on w, or nil if w is not a terminal.
func newProgress(w io.Writer, total int64, bytes bool, what string) *progress {
	if !isTerminal(w) {
		return nil
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(bytes),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionFullWidth(),
	}
	if !bytes {
		opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionSetItsString("records"))
	}
	return &progress{w: w, bar: progressbar.NewOptions64(total, opts...)}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// set moves the bar to n.
func (p *progress) set(n int64) {
	if p != nil {
		_ = p.bar.Set64(n)
	}
}

// then replaces the bar with a line saying what the next, unmeasured step
// is doing; done erases it.
func (p *progress) then(what string) {
	if p != nil {
		_ = p.bar.Clear()
		fmt.Fprintf(p.w, "\r%s...\x1b[K", what)
	}
}

// done erases the bar or the line, leaving the line for what follows.
func (p *progress) done() {
	if p != nil {
		_ = p.bar.Clear()
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
