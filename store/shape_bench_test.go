package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// BenchmarkShape measures the shape check on a journal of 10^5 ops: as Open
// runs it (branch pages, a leaf under each lowest branch) and as Check does
// (every page), with the pages each reads and the file's page count.
func BenchmarkShape(b *testing.B) {
	const n = 100_000
	path := optionsFixture(b, b.TempDir(), n, false)
	j, err := Open(path, &Options{ReadOnly: true})
	require.NoError(b, err)
	defer j.Close()
	for _, full := range []bool{false, true} {
		b.Run(fmt.Sprintf("ops=%d/full=%v", n, full), func(b *testing.B) {
			b.ReportAllocs()
			var s *shapeCheck
			var pages int64
			for b.Loop() {
				require.NoError(b, j.db.View(func(tx *bolt.Tx) error {
					pages = tx.Size() / int64(tx.DB().Info().PageSize)
					s, err = runShape(context.Background(), tx, j.file, full, 1)
					require.Empty(b, s.problems)
					return err
				}))
			}
			b.ReportMetric(float64(s.preads), "preads")
			b.ReportMetric(float64(pages), "file-pages")
		})
	}
}
