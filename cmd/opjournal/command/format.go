package command

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/felhom/opjournal/store"
)

// table is a text/tabwriter with the column spacing every command uses.
// Rows are cells joined by tabs; call flush at the end.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer) *table {
	return &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
}

// row writes one row; cells must already be made safe with cell.
func (t *table) row(cells ...string) {
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// cell makes a string safe for a table: "-" for empty, and quoted (Go
// syntax) when it holds anything that would break the layout or read
// ambiguously: control characters (tabs, newlines, NULs), spaces at its
// edges, or a literal "-". The legacy format allows any string as an op id.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	plain := s != "-" && strings.TrimSpace(s) == s && !strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsPrint(r) && r != ' '
	})
	if plain {
		return s
	}
	return strconv.Quote(s)
}

// timeLayout is RFC 3339 with all nine digits of the nanoseconds, so that
// every time printed has the same width.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// formatTime is the tables' time format: timeLayout, in UTC.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(timeLayout)
}

// formatParams is params as key=value pairs sorted by key, comma-separated;
// a key or value that holds a space, a comma or "=" is quoted.
func formatParams(p map[string]string) string {
	if len(p) == 0 {
		return "-"
	}
	pairs := make([]string, 0, len(p))
	for _, k := range slices.Sorted(maps.Keys(p)) {
		pairs = append(pairs, paramCell(k)+"="+paramCell(p[k]))
	}
	return strings.Join(pairs, ",")
}

func paramCell(s string) string {
	if s != "" && strings.ContainsAny(s, " ,=") {
		return strconv.Quote(s)
	}
	return cell(s)
}

// entryRow is a record's cells: op id, vmid, kind, state, upid, key, at.
func entryRow(e *store.JournalEntry) []string {
	return []string{cell(e.OpID), strconv.Itoa(e.VMID), cell(e.Kind), cell(string(e.State)),
		cell(e.UPID), cell(e.IdempKey), formatTime(e.At)}
}

// entryHeader names entryRow's columns.
var entryHeader = []string{"OP ID", "VMID", "KIND", "STATE", "UPID", "KEY", "AT"}

// writeJSON writes v as indented JSON followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// nonNil returns s, or an empty slice for nil, so that JSON says [] rather
// than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// plural is "1 line", "2 lines".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
