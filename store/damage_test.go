package store_test

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

// A damaged record is reported as ErrCorrupt, never returned as if it were
// good, and poisons the handle: no later Append writes into the file.
func TestDamagedRecordIsDetectedAndPoisons(t *testing.T) {
	j, path := openTemp(t, nil)
	victim := entry("victim", store.OpStarted, "vk", 1)
	victim.Kind = "MARKER-DAMAGE-ME"
	appendAll(t, j, entry("other", store.OpStarted, "", 1), victim)
	require.NoError(t, j.Close())

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	n := bytes.Count(data, []byte(victim.Kind))
	require.Positive(t, n, "marker not found in the file")
	damaged := bytes.ReplaceAll(data, []byte(victim.Kind), []byte("MARKER-DAMAGE-ye"))
	require.NoError(t, os.WriteFile(path, damaged, 0o600))

	j, err = store.Open(path, nil)
	require.NoError(t, err, "damage inside a value does not stop Open")
	defer j.Close()
	_, ok, err := j.Get("victim")
	require.ErrorIs(t, err, store.ErrCorrupt)
	require.False(t, ok)
	require.ErrorContains(t, err, "victim", "the error names the damaged op")

	err = j.Append(entry("new", store.OpStarted, "", 2))
	require.ErrorIs(t, err, store.ErrPoisoned)
	require.ErrorIs(t, err, store.ErrCorrupt)
	_, ok = j.Latest("other")
	require.False(t, ok, "a poisoned handle answers nothing")
	require.ErrorIs(t, j.Err(), store.ErrCorrupt)

	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, damaged, after, "nothing was written into the damaged file")
}

// A commit that fails (here: the file may not grow) has an unknown outcome:
// the handle is poisoned, and after reopening every acknowledged record is
// there and appends work again once there is room.
func TestFailedCommitPoisonsAndNothingAcknowledgedIsLost(t *testing.T) {
	j, path := openTemp(t, &store.Options{MaxSize: 256 << 10})
	var acked []string
	var failure error
	for i := range 100000 {
		op := fmt.Sprintf("op-%06d", i)
		e := entry(op, store.OpStarted, "", i)
		e.Params = map[string]string{"pad": string(bytes.Repeat([]byte("p"), 200))}
		if failure = j.Append(e); failure != nil {
			break
		}
		acked = append(acked, op)
	}
	require.Error(t, failure, "the size cap was never reached")
	require.ErrorIs(t, j.Err(), store.ErrPoisoned)
	require.ErrorIs(t, j.Append(entry("later", store.OpStarted, "", 0)), store.ErrPoisoned)
	require.NoError(t, j.Close())

	j, err := store.Open(path, nil)
	require.NoError(t, err)
	defer j.Close()
	for _, op := range acked {
		_, ok := j.Latest(op)
		require.True(t, ok, "acknowledged op %s lost", op)
	}
	require.NoError(t, j.Append(entry("later", store.OpStarted, "", 0)))
	t.Logf("%d appends acknowledged before the cap: %v", len(acked), failure)
}
