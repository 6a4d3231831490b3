//go:build !linux

package store

// fileSizeLimited reports whether EFBIG from a commit may come from a file
// size limit. The limit is examined on Linux only; elsewhere EFBIG is taken
// as a limit, and a commit failing with it poisons the handle without being
// reported as damage.
func fileSizeLimited() bool { return true }
