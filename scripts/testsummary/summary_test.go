package main

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"start","Package":"p/a"}`,
		`{"Action":"run","Package":"p/a","Test":"TestOK"}`,
		`{"Action":"output","Package":"p/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}`,
		`{"Action":"output","Package":"p/a","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}`,
		`{"Action":"pass","Package":"p/a","Test":"TestOK"}`,
		`{"Action":"run","Package":"p/a","Test":"TestKill"}`,
		`{"Action":"output","Package":"p/a","Test":"TestKill","Output":"=== RUN   TestKill\n"}`,
		`{"Action":"output","Package":"p/a","Test":"TestKill","Output":"    crash_test.go:40: strace not installed\n"}`,
		`{"Action":"output","Package":"p/a","Test":"TestKill","Output":"--- SKIP: TestKill (0.00s)\n"}`,
		`{"Action":"skip","Package":"p/a","Test":"TestKill"}`,
		`{"Action":"output","Package":"p/a","Output":"PASS\n"}`,
		`{"Action":"output","Package":"p/a","Output":"ok  \tp/a\t0.1s\n"}`,
		`{"Action":"pass","Package":"p/a"}`,
	}, "\n") + "\n"
	var out strings.Builder
	failed, err := summarize(strings.NewReader(in), &out)
	if err != nil || failed {
		t.Fatalf("failed %v, err %v", failed, err)
	}
	want := "ok  \tp/a\t0.1s\n\n1 test skipped:\n  p/a TestKill: crash_test.go:40: strace not installed\n"
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}

	in = strings.Join([]string{
		`{"Action":"run","Package":"p/b","Test":"TestBad"}`,
		`{"Action":"output","Package":"p/b","Test":"TestBad","Output":"=== RUN   TestBad\n"}`,
		`{"Action":"output","Package":"p/b","Test":"TestBad","Output":"    b_test.go:9: wrong answer\n"}`,
		`{"Action":"output","Package":"p/b","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}`,
		`{"Action":"fail","Package":"p/b","Test":"TestBad"}`,
		`{"Action":"output","Package":"p/b","Output":"FAIL\n"}`,
		`{"Action":"output","Package":"p/b","Output":"FAIL\tp/b\t0.1s\n"}`,
		`{"Action":"fail","Package":"p/b"}`,
	}, "\n") + "\n"
	out.Reset()
	failed, err = summarize(strings.NewReader(in), &out)
	if err != nil || !failed {
		t.Fatalf("failed %v, err %v: a failing run must fail", failed, err)
	}
	for _, s := range []string{"wrong answer", "--- FAIL: TestBad", "FAIL\tp/b", "no test skipped"} {
		if !strings.Contains(out.String(), s) {
			t.Fatalf("output lacks %q:\n%s", s, out.String())
		}
	}
}
