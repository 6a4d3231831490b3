package command_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVersion(t *testing.T) {
	r := run(t, "--version")
	requireCode(t, r, 0)
	require.Regexp(t, `^opjournal \S.*\n$`, r.stdout)

}

func TestCompletionIsListed(t *testing.T) {
	r := run(t, "--help")
	requireCode(t, r, 0)
	require.Regexp(t, `(?m)^  completion\s+\S`, r.stdout)
	r = run(t, "completion", "bash")
	requireCode(t, r, 0)
	require.Contains(t, r.stdout, "bash completion")
}
