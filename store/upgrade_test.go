package store_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/felhom/opjournal/internal/schematest"
	"github.com/felhom/opjournal/store"
)

// downgrade turns a journal into a schema 1 file, as the first release wrote
// it.
func downgrade(t *testing.T, path string) {
	t.Helper()
	require.NoError(t, schematest.Downgrade(path, 1))
}

// schemaOf reads the meta schema and the top-level buckets of a closed
// journal.
func schemaOf(t *testing.T, path string) (schema string, buckets []string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		schema = string(tx.Bucket([]byte("meta")).Get([]byte("schema")))
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			buckets = append(buckets, string(name))
			return nil
		})
	}))
	return schema, buckets
}

var currentBuckets = []string{"applied", "inflight", "keys", "meta", "opseqs", "pending", "records", "upids", "vmids"}

// currentSchema is store.SchemaVersion as the meta value holds it.
var currentSchema = strconv.Itoa(store.SchemaVersion)

func TestSchema1IsUpgradedOnReadWriteOpen(t *testing.T) {
	j, path := openTemp(t, nil)
	appendAll(t, j, lifecycle("a", 101, "k", store.OpSucceeded, t0)...)
	appendAll(t, j, lifecycle("b", 102, "", store.OpTaskRunning, t0)[:2]...)
	appendAll(t, j, store.JournalEntry{OpID: "a", VMID: 103, State: store.OpFailed, At: t0})
	require.NoError(t, j.Close())
	downgrade(t, path)

	_, err := store.Open(path, &store.Options{ReadOnly: true})
	requireUpgradeRequired(t, err)

	j, err = store.Open(path, nil)
	require.NoError(t, err)
	defer j.Close()
	meta, err := j.Meta()
	require.NoError(t, err)
	require.Equal(t, currentSchema, meta["schema"])
	got, err := j.ByVMID(101)
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, opIDs(got))
	got, err = j.ByVMID(103)
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, opIDs(got))
	e, ok, err := j.ByUPID("UPID:b")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "b", e.OpID)
	e, ok = j.Latest("a")
	require.True(t, ok)
	require.Equal(t, store.OpFailed, e.State)
	require.Equal(t, []string{"b"}, opIDs(j.InFlight()))
	require.True(t, j.AlreadyApplied("k"))
	_, err = j.Check(context.Background())
	require.NoError(t, err)
	require.NoError(t, j.Close())
	schema, buckets := schemaOf(t, path)
	require.Equal(t, currentSchema, schema)
	require.Equal(t, currentBuckets, buckets)
}

// testdata/schema2 was written by the schema 2 release; upgraded, in
// transactions of 7 history keys, it answers every question as that release did.
func TestSchema2FixtureIsUpgraded(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "schema2", "journal.dump"))
	require.NoError(t, err)
	path := copyFixture(t, "schema2")
	schema, buckets := schemaOf(t, path)
	require.Equal(t, "2", schema)
	require.Contains(t, buckets, "ops")

	_, err = store.Open(path, &store.Options{ReadOnly: true})
	requireUpgradeRequired(t, err)

	defer store.SetUpgradeChunk(store.SetUpgradeChunk(7))
	requireAnswersLike(t, path, string(want))
	schema, buckets = schemaOf(t, path)
	require.Equal(t, currentSchema, schema)
	require.Equal(t, currentBuckets, buckets)
}

// requireAnswersLike opens the journal at path read-write (upgrading it),
// requires its fixtureDump to be want and Check to pass, and closes it.
func requireAnswersLike(t *testing.T, path, want string) {
	t.Helper()
	j, err := store.Open(path, nil)
	require.NoError(t, err)
	require.Equal(t, want, fixtureDump(t, j))
	_, err = j.Check(context.Background())
	require.NoError(t, err)
	require.NoError(t, j.Close())
}

// upgradeUntilExit is the child of TestUpgradeCrashAtEveryStep: it upgrades
// the journal in transactions of 7 history keys and exits (no Close) at the nth call
// of the test hook named step.
func upgradeUntilExit(spec string) {
	step, rest, _ := strings.Cut(spec, ":")
	nth, path, _ := strings.Cut(rest, ":")
	n, _ := strconv.Atoi(nth)
	store.SetUpgradeChunk(7)
	store.SetTestHook(func(s string) {
		if s == step {
			if n--; n == 0 {
				os.Exit(7)
			}
		}
	})
	j, err := store.Open(path, nil)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	_ = j.Close()
	os.Exit(0)
}

// TestUpgradeCrashAtEveryStep kills the upgrade of the schema 2 fixture, and
// of the same journal as schemas 1, 3 and 4 wrote it, after the upgrade's
// first transaction, after some of its moves and after the last: a
// read-only Open refuses the half-upgraded file instead of misreading it,
// and the next read-write Open finishes the upgrade with nothing lost.
func TestUpgradeCrashAtEveryStep(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "schema2", "journal.dump"))
	require.NoError(t, err)
	for _, from := range []int{1, 2, 3, 4} {
		for _, at := range []struct {
			step string
			n    int
		}{{"upgrade-schema", 1}, {"upgrade-moved", 1}, {"upgrade-moved", 12}, {"upgrade-moved", 60}, {"none", 1}} {
			t.Run(fmt.Sprintf("schema%d/%s#%d", from, at.step, at.n), func(t *testing.T) {
				path := fixtureAsSchema(t, from)
				child := exec.Command(os.Args[0], "-test.run=^$")
				child.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d:%s", upgradeEnv, at.step, at.n, path))
				out, err := child.CombinedOutput()
				schema, buckets := schemaOf(t, path)
				if at.step == "none" {
					require.NoError(t, err, "%s", out)
					require.Equal(t, currentBuckets, buckets)
				} else {
					var ee *exec.ExitError
					require.ErrorAs(t, err, &ee, "%s", out)
					require.Equal(t, 7, ee.ExitCode(), "%s", out)
					require.Equal(t, currentSchema, schema, "the first transaction sets the schema, so older builds refuse the file")
					require.Contains(t, buckets, "history", "killed before the move finished")
					_, err = store.Open(path, &store.Options{ReadOnly: true})
					require.ErrorIs(t, err, store.ErrSchema)
				}
				requireAnswersLike(t, path, string(want))
			})
		}
	}
}

// fixtureAsSchema returns a copy of the schema 2 fixture, as schema 2 or as
// schema 4 wrote it.
func fixtureAsSchema(t *testing.T, schema int) string {
	t.Helper()
	path := copyFixture(t, "schema2")
	if schema == 2 {
		return path
	}
	j, err := store.Open(path, nil)
	require.NoError(t, err)
	require.NoError(t, j.Close())
	require.NoError(t, schematest.Downgrade(path, schema))
	got, _ := schemaOf(t, path)
	require.Equal(t, strconv.Itoa(schema), got)
	return path
}

// An older build's upgrade to schema 4, interrupted while it listed the
// records in seqs, is finished by the upgrade to schema 5.
func TestUnfinishedSchema4UpgradeIsFinished(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "schema2", "journal.dump"))
	require.NoError(t, err)
	path := fixtureAsSchema(t, 4)
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		h, seqs := tx.Bucket([]byte("history")), tx.Bucket([]byte("seqs"))
		c := h.Cursor()
		k, _ := c.First()
		for range 100 {
			k, _ = c.Next()
		}
		// seqs lists the records of the history keys up to k, as the
		// older build's mark says.
		var late [][]byte
		sc := seqs.Cursor()
		for sk, _ := sc.First(); sk != nil; sk, _ = sc.Next() {
			late = append(late, bytes.Clone(sk))
		}
		for _, sk := range late[len(late)/2:] {
			if err := seqs.Delete(sk); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("upgrade_seqs_after"), append([]byte{1}, k...))
	}))
	require.NoError(t, db.Close())
	_, err = store.Open(path, &store.Options{ReadOnly: true})
	requireUpgradeRequired(t, err)
	requireAnswersLike(t, path, string(want))
	schema, buckets := schemaOf(t, path)
	require.Equal(t, currentSchema, schema)
	require.Equal(t, currentBuckets, buckets)
}

func TestNewerSchemaIsRefused(t *testing.T) {
	j, path := openTemp(t, nil)
	require.NoError(t, j.Close())
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte(strconv.Itoa(store.SchemaVersion+1)))
	}))
	require.NoError(t, db.Close())
	_, err = store.Open(path, nil)
	require.ErrorIs(t, err, store.ErrSchema)
	var se *store.SchemaError
	require.ErrorAs(t, err, &se)
	require.True(t, se.TooNew())
	require.False(t, se.UpgradeRequired())
	require.Equal(t, "store: open "+path+": journal has schema "+strconv.Itoa(store.SchemaVersion+1)+
		", written by a newer opjournal; this build reads schemas up to "+strconv.Itoa(store.SchemaVersion), err.Error())
}

// requireUpgradeRequired checks that err is the *SchemaError of an older
// journal opened read-only.
func requireUpgradeRequired(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, store.ErrSchema)
	var se *store.SchemaError
	require.ErrorAs(t, err, &se)
	require.True(t, se.UpgradeRequired())
	require.False(t, se.TooNew())
	require.ErrorContains(t, err, "open it read-write once to upgrade it")
	require.NotContains(t, err.Error()[len("store:"):], "store:", "one prefix")
}

func TestMetrics(t *testing.T) {
	j, _ := openTemp(t, nil)
	appendAll(t, j, lifecycle("a", 101, "k", store.OpSucceeded, t0)...)
	appendAll(t, j, lifecycle("b", 101, "", store.OpSucceeded, t0)[:2]...)
	require.ErrorIs(t, j.BeginOnce(store.JournalEntry{OpID: "c", State: store.OpStarted, IdempKey: "k", At: t0}), store.ErrAlreadyApplied)
	require.NoError(t, j.AppendBatch(lifecycle("d", 101, "", store.OpSucceeded, t0)))
	m, err := j.Metrics()
	require.NoError(t, err)
	require.Equal(t, uint64(8), m.Appends)
	require.Equal(t, uint64(1), m.Rejected)
	require.Equal(t, uint64(7), m.Commits, "5 appends, 1 rejected BeginOnce, 1 batch; no write at open")
	require.Equal(t, 2*m.Commits, m.Fsyncs)
	require.Equal(t, m.Commits, m.CommitSeconds.Count)
	require.Equal(t, m.Commits, m.GroupSize.Count, "every commit was a group of one")
	require.Equal(t, m.Commits, m.GroupSize.Buckets[0])
	require.Positive(t, m.CommitSeconds.Sum)
	require.Equal(t, 1, m.InFlight)
	require.Positive(t, m.FileSize)
	require.Equal(t, os.Getpagesize(), m.PageSize)
	require.NoError(t, j.Close())
	after, err := j.Metrics()
	require.ErrorIs(t, err, store.ErrClosed)
	require.Equal(t, m.Commits, after.Commits, "the counters outlive Close")
	require.Zero(t, after.FileSize)
}

// Damage in an old file does not stop the upgrade: a damaged record is
// moved as it is, the journal opens, and Check names the damaged record and
// its op, as the older release did. A damaged copy of an op's latest record
// (schema 2 keeps one in ops) is dropped with the bucket: the op's records
// say the same, and Latest answers from them.
func TestUpgradeMovesADamagedRecord(t *testing.T) {
	path := copyFixture(t, "schema2")
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	var op, damaged []byte
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		ops := tx.Bucket([]byte("ops"))
		k, _ := ops.Cursor().Last()
		op = bytes.Clone(k)
		if err := ops.Put(op, []byte{1, 2, 3, 4, 5, 6, 7}); err != nil {
			return err
		}
		h := tx.Bucket([]byte("history"))
		k, _ = h.Cursor().First()
		damaged = bytes.Clone(k[2 : 2+binary.BigEndian.Uint16(k)])
		return h.Put(k, []byte{1, 2, 3, 4, 5, 6, 7})
	}))
	require.NoError(t, db.Close())
	j, err := store.Open(path, nil)
	require.NoError(t, err)
	defer j.Close()
	e, ok, err := j.Get(string(op))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, string(op), e.OpID)
	_, err = j.Check(context.Background())
	require.ErrorIs(t, err, store.ErrCorrupt)
	require.ErrorContains(t, err, fmt.Sprintf("of op %q", damaged))
	require.NoError(t, j.Close())
	schema, buckets := schemaOf(t, path)
	require.Equal(t, currentSchema, schema)
	require.Equal(t, currentBuckets, buckets)
}

// testdata/schema5 was written by this schema's build (go test ./store
// -update): the current build answers it as it answered then, so that a
// change of the format that would misread older files fails here.
func TestSchema5FixtureAnswersLikeItsDump(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "schema5", "journal.dump"))
	require.NoError(t, err)
	path := copyFixture(t, "schema5")
	schema, buckets := schemaOf(t, path)
	require.Equal(t, "5", schema)
	require.Equal(t, currentBuckets, buckets)
	requireAnswersLike(t, path, string(want))
}
