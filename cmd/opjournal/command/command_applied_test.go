package command_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestApplied(t *testing.T) {
	db := newStore(t, fixtureRecords())
	var out strings.Builder
	// job-a succeeded; job-c failed; job-d is in flight; job-z is unknown.
	// Whatever the answer, it is data: exit 0.
	for _, key := range []string{"job-a", "job-c", "job-d", "job-z"} {
		r := run(t, "applied", db, key)
		requireCode(t, r, 0)
		require.Empty(t, r.stderr)
		out.WriteString(r.stdout)
	}
	golden(t, "applied", out.String())
}

func TestAppliedJSON(t *testing.T) {
	db := newStore(t, fixtureRecords())
	type answer struct {
		Key     string    `json:"key"`
		Applied bool      `json:"applied"`
		OpID    string    `json:"op_id"`
		At      time.Time `json:"at"`
	}
	for _, tc := range []struct {
		key  string
		want answer
		raw  string
	}{
		{"job-a", answer{Key: "job-a", Applied: true, OpID: "op-a", At: t0.Add(3250 * time.Millisecond)}, ""},
		{"job-c", answer{Key: "job-c"}, "{\n  \"key\": \"job-c\",\n  \"applied\": false\n}\n"},
	} {
		r := run(t, "applied", "--json", db, tc.key)
		requireCode(t, r, 0)
		var got answer
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), "stdout is not JSON: %s", r.stdout)
		require.Equal(t, tc.want, got)
		if tc.raw != "" {
			require.Equal(t, tc.raw, r.stdout, "a key not applied has no op_id or at")
		}
	}
}
