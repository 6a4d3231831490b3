package command_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/migrate"
)

func TestVerifyOK(t *testing.T) {
	src, db := newMigrated(t, smallLog)
	r := run(t, "verify", src, db)
	requireCode(t, r, 0)
	require.Regexp(t, `^ok: 149 records match\nrecovered lines:\n  line 64 \(byte \d+\): kept the complete record after 81 bytes of torn record fragment\n`+
		`skipped lines:\n  line 150 \(byte \d+\): torn final line of 53 bytes without a newline: unexpected end of JSON input\n$`, r.stdout)
	require.Empty(t, r.stderr)

	r = run(t, "verify", "--json", src, db)
	requireCode(t, r, 0)
	var rep migrate.VerifyReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), "stdout is not JSON: %s", r.stdout)
	require.Equal(t, 149, rep.Records)
	require.NotNil(t, rep.Differences, `no differences should be [], not null`)
	require.Len(t, rep.Recovered, 1)
	require.Len(t, rep.Skipped, 1)
}

func TestVerifyMismatch(t *testing.T) {
	src, db := newMigrated(t, smallLog)
	// The log says another thing than the store: the first success failed.
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	b = bytes.Replace(b, []byte(`"state":"succeeded"`), []byte(`"state":"failed"`), 1)
	changed := filepath.Join(filepath.Dir(src), "changed.jsonl")
	require.NoError(t, os.WriteFile(changed, b, 0o600))

	r := run(t, "verify", changed, db)
	requireCode(t, r, 1)
	golden(t, "verify-mismatch", r.stdout)
	require.Equal(t, "opjournal: "+db+" differs from "+changed+" (1 difference listed)\n", r.stderr)

	r = run(t, "verify", "--json", changed, db)
	requireCode(t, r, 1)
	var rep migrate.VerifyReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), "stdout is not JSON: %s", r.stdout)
	require.Len(t, rep.Differences, 1)
}
