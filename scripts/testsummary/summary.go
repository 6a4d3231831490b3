package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type testKey struct{ pkg, test string }

// skip is a test that skipped, with the reason it logged.
type skip struct {
	pkg, test, reason string
}

// summarize copies the plain result of the run in r to w, then lists the
// skipped tests. It reports whether anything failed.
func summarize(r io.Reader, w io.Writer) (failed bool, err error) {
	out := map[testKey][]string{} // each running test's output lines
	var skips []skip
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if json.Unmarshal(line, &e) != nil || e.Action == "" {
			fmt.Fprintf(w, "%s\n", line) // not an event: go test's own message
			continue
		}
		k := testKey{e.Package, e.Test}
		switch e.Action {
		case "output", "build-output":
			if e.Test == "" {
				if packageLine(e.Output) {
					fmt.Fprint(w, e.Output)
				}
				continue
			}
			out[k] = append(out[k], e.Output)
		case "fail", "build-fail":
			failed = true
			if e.Test != "" {
				fmt.Fprint(w, strings.Join(out[k], ""))
			} else {
				// The package failed: print what its tests that never
				// ended (the binary exited or panicked under them) said.
				for tk, lines := range out {
					if tk.pkg == e.Package {
						fmt.Fprint(w, strings.Join(lines, ""))
						delete(out, tk)
					}
				}
			}
			delete(out, k)
		case "skip":
			if e.Test != "" {
				skips = append(skips, skip{e.Package, e.Test, skipReason(out[k])})
			}
			delete(out, k)
		case "pass":
			delete(out, k)
		}
	}
	if err := sc.Err(); err != nil {
		return true, err
	}
	writeSkips(w, skips)
	return failed, nil
}

// packageLine reports whether a package-level output line is one a plain
// go test prints: its result ("ok", "FAIL", "?") or a failure's output, not
// the -v chatter ("=== RUN", "PASS").
func packageLine(s string) bool {
	t := strings.TrimSpace(s)
	return t != "" && t != "PASS" && !strings.HasPrefix(t, "=== ") && !strings.HasPrefix(t, "--- PASS") && !strings.HasPrefix(t, "--- SKIP")
}

// skipReason is what a skipped test logged, without go test's framing.
func skipReason(lines []string) string {
	var parts []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "no reason given"
	}
	return strings.Join(parts, "; ")
}

func writeSkips(w io.Writer, skips []skip) {
	if len(skips) == 0 {
		fmt.Fprintln(w, "\nno test skipped")
		return
	}
	sort.Slice(skips, func(i, j int) bool {
		if skips[i].pkg != skips[j].pkg {
			return skips[i].pkg < skips[j].pkg
		}
		return skips[i].test < skips[j].test
	})
	if len(skips) == 1 {
		fmt.Fprintln(w, "\n1 test skipped:")
	} else {
		fmt.Fprintf(w, "\n%d tests skipped:\n", len(skips))
	}
	for _, s := range skips {
		fmt.Fprintf(w, "  %s %s: %s\n", s.pkg, s.test, s.reason)
	}
}
