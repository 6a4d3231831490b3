package command

import (
	"strings"

	"github.com/spf13/cobra"
)

// exactArgs accepts exactly the named positional arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef("%s takes %d argument(s) (%s), got %d", cmd.Name(), len(names), strings.Join(names, " "), len(args))
		}
		return nil
	}
}

// checkShare rejects a share flag outside [0, 1].
func checkShare(name string, v float64) error {
	if v < 0 || v > 1 {
		return usagef("--%s %v: want a share between 0 and 1", name, v)
	}
	return nil
}
