package store_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/live"
	"github.com/felhom/opjournal/store"
)

// Clients that ask for a stream (export, backup, the feed) and never read it
// hold no read transaction: appends that grow the file, which bbolt cannot
// do while a read transaction holds the memory map, go on. Each write to a
// client may take an hour here, so only that can let them through.
func TestStalledStreamsDoNotHoldAppends(t *testing.T) {
	defer store.SetEndpointWriteTimeout(store.SetEndpointWriteTimeout(time.Hour))
	j, path := openTemp(t, nil)
	c, err := live.Dial(context.Background(), store.EndpointPath(path))
	require.NoError(t, err)
	defer c.Close()
	batch := make([]store.JournalEntry, 0, 500)
	for i := range 5000 {
		e := entry(fmt.Sprintf("op-%05d", i), store.OpStarted, "", i)
		e.Params = map[string]string{"blob": strings.Repeat("x", 1024)}
		if batch = append(batch, e); len(batch) == cap(batch) {
			require.NoError(t, j.AppendBatch(batch))
			batch = batch[:0]
		}
	}
	for _, path := range []string{"/v1/export", "/v1/backup", "/v1/feed?from=0"} {
		conn, err := net.Dial("unix", c.Socket())
		require.NoError(t, err)
		defer conn.Close()
		_, err = io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
	}
	time.Sleep(time.Second) // let the streams fill their connections
	done := make(chan error, 1)
	go func() {
		big := entry("big", store.OpStarted, "", 0)
		big.Params = map[string]string{"blob": strings.Repeat("y", 512<<10)}
		for i := range 200 {
			big.OpID = fmt.Sprintf("big-%d", i)
			if err := j.Append(big); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(2 * time.Minute):
		t.Fatal("appends that grow the file are stuck behind clients that do not read")
	}
}
