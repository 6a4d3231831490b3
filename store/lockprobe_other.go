//go:build !unix

package store

// sharedOnly cannot tell readers from writers here: a read-write Open
// does not wait for readers.
func sharedOnly(string) bool { return false }
