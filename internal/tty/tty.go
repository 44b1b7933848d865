// Package tty holds what the CLI's progress output needs from a terminal:
// whether a writer is one, and the bar both progress reports draw.
package tty

import (
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// Is reports whether w is a terminal.
func Is(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Bar renders done of total as "[=====>    ]" with width cells between the
// brackets; total <= 0 draws an empty bar.
func Bar(done, total int64, width int) string {
	filled := 0
	if total > 0 {
		filled = int(int64(width) * min(max(done, 0), total) / total)
	}
	var b strings.Builder
	b.Grow(width + 2)
	b.WriteString("[" + strings.Repeat("=", filled))
	if filled < width {
		b.WriteString(">" + strings.Repeat(" ", width-filled-1))
	}
	b.WriteString("]")
	return b.String()
}
