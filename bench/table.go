package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// section is one table of the report, rendered by WriteTable and
// WriteMarkdown alike.
type section struct {
	title  string
	note   string
	header []string
	rows   [][]string
}

// WriteTable writes the results as aligned text tables for a terminal: a
// header describing the run, then one table per workload. Ratios to the
// baseline ("x<baseline>") and to the fsync floor ("xfsync") are value
// divided by reference, so for a rate more is better and for a time or a
// size less is; the baseline's own rows show "-".
func (r *Results) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	for _, l := range r.headerLines() {
		fmt.Fprintln(ew, l)
	}
	for _, s := range r.sections() {
		fmt.Fprintf(ew, "\n%s\n", s.title)
		if s.note != "" {
			fmt.Fprintf(ew, "  (%s)\n", s.note)
		}
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		for _, row := range append([][]string{s.header}, s.rows...) {
			fmt.Fprintf(tw, "  %s\t\n", strings.Join(row, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return ew.err
}

// WriteMarkdown writes the same tables as WriteTable in GitHub Markdown.
func (r *Results) WriteMarkdown(w io.Writer) error {
	ew := &errWriter{w: w}
	fmt.Fprintln(ew, "## opjournal bench")
	fmt.Fprintln(ew)
	for _, l := range r.headerLines() {
		fmt.Fprintf(ew, "- %s\n", mdEscape(l))
	}
	for _, s := range r.sections() {
		fmt.Fprintf(ew, "\n### %s\n\n", mdEscape(s.title))
		if s.note != "" {
			fmt.Fprintf(ew, "%s\n\n", mdEscape(strings.ToUpper(s.note[:1])+s.note[1:]+"."))
		}
		fmt.Fprintf(ew, "| %s |\n", strings.Join(mapStrings(s.header, mdEscape), " | "))
		aligns := make([]string, len(s.header))
		for i := range aligns {
			aligns[i] = "---:"
		}
		fmt.Fprintf(ew, "|%s|\n", strings.Join(aligns, "|"))
		for _, row := range s.rows {
			fmt.Fprintf(ew, "| %s |\n", strings.Join(mapStrings(row, mdEscape), " | "))
		}
	}
	return ew.err
}

func mapStrings(ss []string, f func(string) string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}

// mdEscape escapes the characters that would break a Markdown table or
// start emphasis.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "<", "&lt;").Replace(s)
}

// errWriter keeps the first write error, so that formatting code can write
// freely and check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// headerLines describe the run.
func (r *Results) headerLines() []string {
	e := &r.Env
	mode := "full"
	if e.Quick {
		mode = "quick"
	}
	lines := []string{
		fmt.Sprintf("opjournal bench: %s/%s, %s, %d CPUs (GOMAXPROCS %d), %s",
			e.GOOS, e.GOARCH, orDash(e.CPU), e.NumCPU, e.GOMAXPROCS, e.GoVersion),
		fmt.Sprintf("dir %s (%s); %s run, %d reps, %s per run, %s per lookup run; started %s, took %s",
			e.Dir, e.FileSystem, mode, e.Reps, fmtDur(e.RunTime), fmtDur(e.LookupTime),
			e.Started.Format("2006-01-02 15:04:05Z07:00"), fmtDur(e.Elapsed)),
	}
	if e.ScatteredOpIDs {
		lines = append(lines, "op ids scattered over the key space (UUIDv4-shaped hashes), not in the order the ops start")
	}
	for _, w := range e.Warnings {
		lines = append(lines, "WARNING: "+w)
	}
	return lines
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// sections are the report's tables, in order; a section without rows is
// left out.
func (r *Results) sections() []section {
	var out []section
	for _, s := range []section{
		r.floorSection(), r.appendSection(), r.lifecycleSection(), r.openSection(),
		r.diskSection(), r.lookupSection(), r.migrateSection(),
	} {
		if len(s.rows) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// vs is the header of a ratio column.
func vs(ref string) string { return "x" + ref }

// baselineRatio is fmtRatio, or "-" on the baseline's own rows.
func (r *Results) baselineRatio(impl string, v, base float64) string {
	if impl == r.Baseline {
		return "-"
	}
	return fmtRatio(v, base)
}

func (r *Results) floorSection() section {
	s := section{
		title:  "Floor: durable write without a journal, 1 writer",
		note:   fmt.Sprintf("a %d-byte write to an O_APPEND file then fsync or fdatasync; one bbolt db.Update of one %d-byte value", recordSize, recordSize),
		header: []string{"floor", "ops/s", vs(FloorFsync), "p50", "p99", "p99.9", "calls"},
	}
	fsync := r.Floor(FloorFsync)
	for _, f := range r.Floors {
		ratio := "-"
		if fsync != nil && f.Kind != FloorFsync {
			ratio = fmtRatio(f.Rate(), fsync.Rate())
		}
		s.rows = append(s.rows, []string{f.Kind, fmtRate(f.Rate()), ratio,
			fmtDur(f.All.P50), fmtDur(f.All.P99), fmtDur(f.All.P999), fmtCount(f.All.N)})
	}
	return s
}

func (r *Results) appendSection() section {
	s := section{
		title: "Durable Append",
		note: "records of op lifecycles (started, task_running, succeeded), each durable before Append returns; " +
			"appends/s is the median over reps, percentiles pool every call; 1 writer is the sequential case",
		header: []string{"writers", "impl", "appends/s", vs(r.Baseline), vs(FloorFsync), "p50", "p99", "p99.9", "calls"},
	}
	fsync := r.Floor(FloorFsync)
	for _, a := range r.Appends {
		toFloor := "-"
		if fsync != nil {
			toFloor = fmtRatio(a.Rate(), fsync.Rate())
		}
		toBase := "-"
		if b := r.Append(a.Writers, r.Baseline); b != nil {
			toBase = r.baselineRatio(a.Impl, a.Rate(), b.Rate())
		}
		s.rows = append(s.rows, []string{fmtCount(a.Writers), a.Impl, fmtRate(a.Rate()), toBase, toFloor,
			fmtDur(a.All.P50), fmtDur(a.All.P99), fmtDur(a.All.P999), fmtCount(a.All.N)})
	}
	return s
}

func (r *Results) lifecycleSection() section {
	s := section{
		title: "Agent lifecycle",
		note: "one op: AlreadyApplied, Append started, Append task_running, Append succeeded with a key, Latest; " +
			"latency is the whole op's",
		header: []string{"writers", "impl", "ops/s", vs(r.Baseline), "p50", "p99", "p99.9", "ops"},
	}
	for _, l := range r.Lifecycles {
		toBase := "-"
		if b := r.Lifecycle(l.Writers, r.Baseline); b != nil {
			toBase = r.baselineRatio(l.Impl, l.Rate(), b.Rate())
		}
		s.rows = append(s.rows, []string{fmtCount(l.Writers), l.Impl, fmtRate(l.Rate()), toBase,
			fmtDur(l.All.P50), fmtDur(l.All.P99), fmtDur(l.All.P999), fmtCount(l.All.N)})
	}
	return s
}

func (r *Results) openSection() section {
	s := section{
		title:  "Open and heap after open",
		note:   "median over reps, warm page cache; the legacy's open replays the whole log",
		header: []string{"ops", "impl", "open", vs(r.Baseline), "heap", vs(r.Baseline)},
	}
	for i := range r.Sizes {
		z := &r.Sizes[i]
		openRatio, heapRatio := "-", "-"
		if b := r.Size(z.Ops, r.Baseline); b != nil {
			openRatio = r.baselineRatio(z.Impl, float64(z.Open.All.P50), float64(b.Open.All.P50))
			// A heap that shrank across the open is noise: no growth.
			heapRatio = r.baselineRatio(z.Impl, max(z.HeapMedian(), 0), b.HeapMedian())
		}
		s.rows = append(s.rows, []string{fmtCount(z.Ops), z.Impl, fmtDur(z.Open.All.P50), openRatio,
			fmtBytes(z.HeapMedian()), heapRatio})
	}
	return s
}

func (r *Results) diskSection() section {
	s := section{
		title:  "Bytes on disk",
		note:   "the journal of the legacy log's records; allocated blocks, as files may be sparse",
		header: []string{"ops", "impl", "file", "on disk", "bytes/op", vs(r.Baseline)},
	}
	for i := range r.Sizes {
		z := &r.Sizes[i]
		ratio := "-"
		if b := r.Size(z.Ops, r.Baseline); b != nil {
			ratio = r.baselineRatio(z.Impl, z.DiskPerOp(), b.DiskPerOp())
		}
		s.rows = append(s.rows, []string{fmtCount(z.Ops), z.Impl, fmtBytes(float64(z.FileBytes)),
			fmtBytes(float64(z.DiskBytes)), fmtRate(z.DiskPerOp()), ratio})
	}
	return s
}

func (r *Results) lookupSection() section {
	s := section{
		title:  "Lookups",
		note:   "1 goroutine, warm page cache; Latest of ops in the log, AlreadyApplied of keys half applied and half unknown, InFlight returning every op in flight; ratios compare p50",
		header: []string{"call", "ops", "impl", "p50", "p99", "p99.9", vs(r.Baseline), "calls"},
	}
	calls := []struct {
		name string
		get  func(*SizeResult) *Sample
	}{
		{"Latest", func(z *SizeResult) *Sample { return &z.Latest }},
		{"AlreadyApplied", func(z *SizeResult) *Sample { return &z.AlreadyApplied }},
		{"InFlight", func(z *SizeResult) *Sample { return &z.InFlight }},
	}
	for _, c := range calls {
		for i := range r.Sizes {
			z := &r.Sizes[i]
			l := c.get(z).All
			ratio := "-"
			if b := r.Size(z.Ops, r.Baseline); b != nil {
				ratio = r.baselineRatio(z.Impl, float64(l.P50), float64(c.get(b).All.P50))
			}
			name := c.name
			if c.name == "InFlight" {
				name = fmt.Sprintf("InFlight (%s)", fmtCount(z.InFlightOps))
			}
			s.rows = append(s.rows, []string{name, fmtCount(z.Ops), z.Impl,
				fmtDur(l.P50), fmtDur(l.P99), fmtDur(l.P999), ratio, fmtCount(l.N)})
		}
	}
	return s
}

func (r *Results) migrateSection() section {
	s := section{
		title:  "Migration next to the legacy replay",
		note:   "median over reps: Config.Migrate on the legacy log, and the baseline's open of the same log",
		header: []string{"ops", "records", "log", "replay (" + r.Baseline + " open)", "migrate", vs("replay")},
	}
	for _, l := range r.Logs {
		if l.Migrate == nil {
			continue
		}
		replay, ratio := "-", "-"
		if b := r.Size(l.Ops, r.Baseline); b != nil {
			replay = fmtDur(b.Open.All.P50)
			ratio = fmtRatio(float64(l.Migrate.All.P50), float64(b.Open.All.P50))
		}
		s.rows = append(s.rows, []string{fmtCount(l.Ops), fmtCount(l.Records), fmtBytes(float64(l.Bytes)),
			replay, fmtDur(l.Migrate.All.P50), ratio})
	}
	return s
}
