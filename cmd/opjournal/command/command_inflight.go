package command

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newInFlightCommand() *cobra.Command {
	var (
		asJSON bool
		src    sourceFlags
	)
	cmd := &cobra.Command{
		Use:   "inflight DB",
		Short: "List the ops in flight",
		Long: `Inflight lists the ops of the store DB whose latest record is neither
succeeded nor failed (started or task_running): the ops an agent re-checks
after a restart. One row per op, in op id order, with its latest record.`,
		Example: `  opjournal inflight ops.db
  opjournal inflight --json ops.db | jq -r '.[].op_id'`,
		Args: exactArgs("DB"),
		RunE: func(cmd *cobra.Command, args []string) error {
			j, err := openSource(cmd, args[0], &src)
			if err != nil {
				return err
			}
			defer j.Close()
			ops, err := j.InFlight(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, nonNil(ops))
			}
			if len(ops) == 0 {
				fmt.Fprintln(out, "no ops in flight")
				return nil
			}
			t := newTable(out)
			t.row(entryHeader...)
			for i := range ops {
				t.row(entryRow(&ops[i])...)
			}
			return t.flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of the ops' latest records")
	addSourceFlags(cmd, &src)
	return cmd
}
