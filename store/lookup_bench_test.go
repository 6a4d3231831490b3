package store

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkLookup measures Latest and AlreadyApplied from disk on a journal
// of 10^5 ops (DESIGN.md's target: at most 2 us each).
func BenchmarkLookup(b *testing.B) {
	path := optionsFixture(b, b.TempDir(), 100_000, false)
	j, err := Open(path, nil)
	require.NoError(b, err)
	defer j.Close()
	require.NoError(b, j.Append(JournalEntry{OpID: "k", State: OpSucceeded, IdempKey: "applied-key"}))
	b.Run("op=latest", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i = (i + 7919) % 100_000
			if _, ok := j.Latest(fmt.Sprintf("op-%08d", i)); !ok {
				b.Fatal("missing op")
			}
		}
	})
	b.Run("op=already-applied", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !j.AlreadyApplied("applied-key") {
				b.Fatal("key not applied")
			}
		}
	})
}
