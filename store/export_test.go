package store

// CommitCount returns how many transactions j has committed.
func CommitCount(j *Journal) uint64 { return j.group.commits.Load() }

// SetTestHook sets the function BackupFile and Compact call between steps.
func SetTestHook(f func(step string)) { testHook = f }

// SetPendingMax sets how many pending index entries trigger a merge, and
// returns the previous value.
func SetPendingMax(n uint64) uint64 { old := pendingMax; pendingMax = n; return old }
