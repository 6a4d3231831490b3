//go:build !linux

package command

import "github.com/felhom/opjournal/store"

// sameJournal: live endpoints are served on Linux only.
func sameJournal(string, store.EndpointInfo) bool { return false }
