package store

import "sync/atomic"

// hookStep names a point where testHook is called.
type hookStep string

// The steps testHook is called at.
const (
	// hookLocked: Compact holds the journal.
	hookLocked hookStep = "locked"
	// hookWritten, hookSynced, hookVerified and hookInstalled: BackupFile's
	// and Compact's copy is written, synced, verified, installed.
	hookWritten   hookStep = "written"
	hookSynced    hookStep = "synced"
	hookVerified  hookStep = "verified"
	hookInstalled hookStep = "installed"
	// hookApplied: every commit, once its transaction is written.
	hookApplied hookStep = "applied"
	// hookCommitted: every commit, once bbolt committed it and before the
	// tail's lists have its records.
	hookCommitted hookStep = "committed"
	// hookCommitFailing: a commit the failCommit test switch fails, after
	// its pages reached the file.
	hookCommitFailing hookStep = "commit-failing"
	// hookUpgradeSchema: the upgrade's first transaction committed.
	hookUpgradeSchema hookStep = "upgrade-schema"
	// hookUpgradeMoved: an upgrade transaction moved records out of
	// history, and more remain.
	hookUpgradeMoved hookStep = "upgrade-moved"
)

// testHook is called between steps, with the step. Tests set it
// (setTestHook) to simulate a crash at a step or to act inside a commit.
func testHook(step hookStep) {
	if f := testHookFn.Load(); f != nil {
		(*f)(step)
	}
}

var testHookFn atomic.Pointer[func(hookStep)]

// setTestHook sets the test hook; nil removes it.
func setTestHook(f func(hookStep)) {
	if f == nil {
		testHookFn.Store(nil)
		return
	}
	testHookFn.Store(&f)
}
