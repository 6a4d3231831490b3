// Command testsummary reads `go test -json` from stdin and prints what a
// plain `go test` prints (each package's result, and the output of every
// test that failed), then a summary of the tests that skipped and why, so
// that a machine without strace or root says which tests it did not run. It
// exits 1 if any test or package failed or a build failed.
//
//	go test -json ./... | go run ./scripts/testsummary
package main

import (
	"fmt"
	"os"
)

func main() {
	failed, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(1)
	}
	if failed {
		os.Exit(1)
	}
}
