//go:build !linux

package store

// lockHolders is known on Linux only (/proc/locks).
func lockHolders(string) (writers, readers []string) { return nil, nil }
