package command

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/felhom/opjournal/store"
)

// statsAnswer is stats' JSON output: the store's meta values and counts,
// numbers as JSON numbers.
type statsAnswer struct {
	Schema       int              `json:"schema"`
	Codec        int              `json:"codec"`
	Created      string           `json:"created"`
	MigratedFrom *store.Migration `json:"migrated_from,omitempty"`
	store.Stats
}

func newStatsCommand() *cobra.Command {
	var (
		asJSON bool
		src    sourceFlags
	)
	cmd := &cobra.Command{
		Use:   "stats DB",
		Short: "Show what a store holds and where it came from",
		Long: `Stats prints the store DB's schema and codec versions, when it was created
and, for a migrated store, the legacy journal it was migrated from; then it
counts ops, records, ops in flight and applied keys, and gives the file's
size. Counting walks the whole file.`,
		Example: `  opjournal stats ops.db
  opjournal stats --json ops.db`,
		Args: exactArgs("DB"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ans, err := readStats(cmd, args[0], &src)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), ans)
			}
			return printStats(cmd.OutOrStdout(), ans)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the meta values and counts as JSON")
	addSourceFlags(cmd, &src)
	return cmd
}

func readStats(cmd *cobra.Command, db string, src *sourceFlags) (*statsAnswer, error) {
	j, err := openLongSource(cmd, db, src)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	meta, err := j.Meta(cmd.Context())
	if err != nil {
		return nil, err
	}
	ans := &statsAnswer{Created: meta["created"]}
	if ans.Schema, err = strconv.Atoi(meta["schema"]); err != nil {
		return nil, fmt.Errorf("%s: meta schema %q is not a number", db, meta["schema"])
	}
	if ans.Codec, err = strconv.Atoi(meta["codec"]); err != nil {
		return nil, fmt.Errorf("%s: meta codec %q is not a number", db, meta["codec"])
	}
	if v, ok := meta["migrated_from"]; ok {
		var m store.Migration
		if err := json.Unmarshal([]byte(v), &m); err != nil {
			return nil, fmt.Errorf("%s: meta migrated_from: %w", db, err)
		}
		ans.MigratedFrom = &m
	}
	if ans.Stats, err = j.Stats(cmd.Context()); err != nil {
		return nil, err
	}
	return ans, nil
}

func printStats(w io.Writer, s *statsAnswer) error {
	from := "-"
	if m := s.MigratedFrom; m != nil {
		from = fmt.Sprintf("%s (%d bytes, at %s)", cell(m.Source), m.Size, formatTime(m.At))
	}
	t := newTable(w)
	for _, r := range [][2]string{
		{"schema", strconv.Itoa(s.Schema)},
		{"codec", strconv.Itoa(s.Codec)},
		{"created", createdTime(s.Created)},
		{"migrated from", from},
		{"ops", strconv.Itoa(s.Ops)},
		{"records", strconv.Itoa(s.Records)},
		{"in flight", strconv.Itoa(s.InFlight)},
		{"applied keys", strconv.Itoa(s.AppliedKeys)},
		{"file size", strconv.FormatInt(s.FileSize, 10) + " bytes"},
	} {
		t.row(r[0], r[1])
	}
	return t.flush()
}

// createdTime formats the meta "created" value like every other time, or
// shows it as stored if it does not parse.
func createdTime(v string) string {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return cell(v)
	}
	return formatTime(t)
}
