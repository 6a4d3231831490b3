package bench

import (
	"encoding/json"
	"io"
)

// WriteJSON writes the results as one indented JSON object: every field of
// Results (durations in nanoseconds, sizes in bytes) and "comparisons", the
// derived ratios (Comparisons). It reads back into a Results with
// encoding/json, the comparisons being ignored.
func (r *Results) WriteJSON(w io.Writer) error {
	out := struct {
		*Results
		Comparisons []Comparison `json:"comparisons"`
	}{r, r.Comparisons()}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
