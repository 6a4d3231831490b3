package store

import "time"

// CommitCount returns how many transactions j has committed.
func CommitCount(j *Journal) uint64 { return j.group.commits.Load() }

// SetTestHook sets the function called between steps (see hookStep); nil
// removes it.
func SetTestHook(f func(step string)) {
	if f == nil {
		setTestHook(nil)
		return
	}
	setTestHook(func(s hookStep) { f(string(s)) })
}

// SetMergeChunk sets how many pending index entries one merge transaction
// moves, and returns the previous value.
func SetMergeChunk(n int) int { old := mergeChunk; mergeChunk = n; return old }

// SetUpgradeChunk sets how many latest records one upgrade transaction moves
// out of schema 2's ops bucket, and returns the previous value.
func SetUpgradeChunk(n int) int { old := upgradeChunk; upgradeChunk = n; return old }

// SetSkipSync makes the named sync a no-op, so that the power-loss trials
// can show they catch its absence: "create-dirsync", the directory sync
// after create's link; "install-filesync", the copy's file sync before
// Compact or BackupFile installs it; "install-dirsync", the directory sync
// after they install it.
func SetSkipSync(name string) { skipSync = name }

// SetFailCommit makes every commit fail after bbolt wrote it (calling the
// test hook with "commit-failing" first), as a failed fdatasync of the meta
// page would.
func SetFailCommit(on bool) { failCommit = on }

// SetEndpointWriteTimeout sets how long each write of the live endpoint to
// a client may take, and returns the previous value.
func SetEndpointWriteTimeout(d time.Duration) time.Duration {
	old := endpointWriteTimeout
	endpointWriteTimeout = d
	return old
}

// SetDefaultOpMergeEvery sets Options.OpMergeEvery's default and returns
// the previous one.
func SetDefaultOpMergeEvery(n int) int {
	old := defaultOpMergeEvery
	defaultOpMergeEvery = n
	return old
}

// SetMergeOnClose sets whether Close merges the tail (true by default) and
// returns the previous setting.
func SetMergeOnClose(on bool) bool {
	old := mergeOnClose
	mergeOnClose = on
	return old
}
