package store

// CommitCount returns how many transactions j has committed.
func CommitCount(j *Journal) uint64 { return j.group.commits.Load() }

// SetTestHook sets the function BackupFile and Compact call between steps.
func SetTestHook(f func(step string)) { testHook = f }
