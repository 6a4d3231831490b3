package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

func TestBeginOnce(t *testing.T) {
	j, _ := openTemp(t, nil)
	require.NoError(t, j.BeginOnce(entry("a", store.OpStarted, "job", 1)))

	err := j.BeginOnce(entry("b", store.OpStarted, "job", 2))
	require.ErrorIs(t, err, store.ErrKeyInFlight)
	var held *store.KeyInFlightError
	require.ErrorAs(t, err, &held)
	require.Equal(t, "a", held.Holder, "the error names the op holding the key")
	_, ok := j.Latest("b")
	require.False(t, ok, "a rejected BeginOnce writes nothing")

	require.NoError(t, j.BeginOnce(entry("a", store.OpTaskRunning, "job", 3)), "the holder may resume")

	require.NoError(t, j.Append(entry("a", store.OpFailed, "job", 4)))
	require.NoError(t, j.BeginOnce(entry("b", store.OpStarted, "job", 5)), "a failed holder releases the key")
	require.NoError(t, j.Append(entry("b", store.OpSucceeded, "job", 6)))

	j = reopen(t, j)
	require.ErrorIs(t, j.BeginOnce(entry("c", store.OpStarted, "job", 7)), store.ErrAlreadyApplied)
	require.ErrorIs(t, j.BeginOnce(entry("b", store.OpStarted, "job", 7)), store.ErrAlreadyApplied)
	require.NoError(t, j.BeginOnce(entry("d", store.OpStarted, "", 7)), "no key, nothing to check")
}

// A holder whose latest record moves to another key releases the first.
func TestBeginOnceKeyMovesWithLatestRecord(t *testing.T) {
	j, _ := openTemp(t, nil)
	require.NoError(t, j.BeginOnce(entry("a", store.OpStarted, "k1", 1)))
	require.NoError(t, j.Append(entry("a", store.OpTaskRunning, "k2", 2)))
	require.NoError(t, j.BeginOnce(entry("b", store.OpStarted, "k1", 3)))
	require.ErrorIs(t, j.BeginOnce(entry("c", store.OpStarted, "k2", 3)), store.ErrKeyInFlight)
}

// Of many concurrent BeginOnce calls for one key, exactly one wins, and the
// losers do not fail the winner's group.
func TestBeginOnceConcurrent(t *testing.T) {
	j, _ := openTemp(t, nil)
	const n = 32
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = j.BeginOnce(entry(fmt.Sprintf("op-%d", i), store.OpStarted, "once", i))
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, store.ErrKeyInFlight):
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	require.Equal(t, 1, won)
	require.Len(t, j.InFlight(), 1)
}
