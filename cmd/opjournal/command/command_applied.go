package command

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

// appliedAnswer is applied's JSON output.
type appliedAnswer struct {
	Key     string    `json:"key"`
	Applied bool      `json:"applied"`
	OpID    string    `json:"op_id,omitempty"`
	At      time.Time `json:"at,omitzero"`
}

func newAppliedCommand() *cobra.Command {
	var (
		asJSON bool
		src    sourceFlags
	)
	cmd := &cobra.Command{
		Use:   "applied DB KEY",
		Short: "Say whether an idempotency key is applied, by which op and when",
		Long: `Applied says whether the idempotency key KEY is applied in the store DB: a
record carrying it reached succeeded, so an op with that key must not run
again. It names the op that first applied it and that record's time.

The answer is data: the exit code is 0 whether or not the key is applied.`,
		Example: `  opjournal applied ops.db job-6f1c2a9b0d3e4f57
  opjournal applied --json ops.db job-6f1c2a9b0d3e4f57`,
		Args: exactArgs("DB", "KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			j, err := openSource(cmd, args[0], &src)
			if err != nil {
				return err
			}
			defer j.Close()
			key := args[1]
			a, ok, err := j.Applied(cmd.Context(), key)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case asJSON:
				return writeJSON(out, appliedAnswer{Key: key, Applied: ok, OpID: a.OpID, At: a.At})
			case ok:
				fmt.Fprintf(out, "key %s: applied by op %s at %s\n", strconv.Quote(key), strconv.Quote(a.OpID), formatTime(a.At))
			default:
				fmt.Fprintf(out, "key %s: not applied\n", strconv.Quote(key))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"key", "applied", "op_id", "at"} as JSON`)
	addSourceFlags(cmd, &src)
	return cmd
}
