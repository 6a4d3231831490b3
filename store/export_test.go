package store

// CommitCount returns how many transactions j has committed.
func CommitCount(j *Journal) uint64 { return j.group.commits.Load() }
