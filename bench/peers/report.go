package peers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/felhom/opjournal/bench"
	"github.com/felhom/opjournal/store"
)

// Config is one comparison: what Compare runs.
type Config struct {
	Dir        string        // where the journals go (the disk under test); default os.TempDir()
	Rounds     int           // interleaved rounds; default 5
	Writers    []int         // concurrent appenders; default 1, 16, 64
	Ops        int           // journal size of the open, lookup and size figures; default 100,000
	RunTime    time.Duration // each measured append run; default 1s
	LookupTime time.Duration // each measured lookup run; default 300ms
	Progress   io.Writer     // a line per step; nil is silent
}

func (c Config) withDefaults() Config {
	if c.Dir == "" {
		c.Dir = os.TempDir()
	}
	if c.Rounds <= 0 {
		c.Rounds = 5
	}
	if len(c.Writers) == 0 {
		c.Writers = []int{1, 16, 64}
	}
	if c.Ops <= 0 {
		c.Ops = 100_000
	}
	if c.RunTime <= 0 {
		c.RunTime = time.Second
	}
	if c.LookupTime <= 0 {
		c.LookupTime = 300 * time.Millisecond
	}
	return c
}

// Report is a comparison's results: the harness's results of each op id
// order, the store's size after Compact, and the table derived from them.
type Report struct {
	Config   Config   `json:"config"`
	Settings []string `json:"settings"` // one line per impl: engine, version, settings
	Impls    []string `json:"impls"`

	// TimeOrdered is every figure with op ids that sort in the order the
	// ops start; Scattered the append and lifecycle figures with op ids
	// scattered over the key space.
	TimeOrdered *bench.Results `json:"time_ordered"`
	Scattered   *bench.Results `json:"scattered"`
	Compacted   *Compacted     `json:"store_compacted,omitempty"`

	Rows []Row `json:"rows"`
}

// Compacted is the store's fixture of Config.Ops ops before and after
// store.Compact.
type Compacted struct {
	Ops        int   `json:"ops"`
	FileBefore int64 `json:"file_before"`
	DiskBefore int64 `json:"disk_before"`
	FileAfter  int64 `json:"file_after"`
	DiskAfter  int64 `json:"disk_after"`
}

// Row is one line of the table: a figure of each impl (absent where it was
// not measured), medians over rounds.
type Row struct {
	Figure string             `json:"figure"`
	Unit   string             `json:"unit"` // "appends/s", "lifecycles/s", "ns" or "bytes"
	Values map[string]float64 `json:"values"`
}

// Compare runs the comparison: the harness (package bench) with the store,
// the legacy journal and the peers, once with time-ordered op ids (every
// workload) and once with scattered ones (the append and lifecycle
// workloads), each in cfg.Rounds interleaved rounds; then the store's size
// after Compact.
func Compare(ctx context.Context, cfg Config) (*Report, error) {
	c := cfg.withDefaults()
	impls := Impls()
	rep := &Report{Config: c, Settings: Settings()}
	for _, im := range impls {
		rep.Impls = append(rep.Impls, im.Name)
	}
	base := bench.Config{
		Dir: c.Dir, Reps: c.Rounds, Writers: c.Writers, LifecycleWriters: []int{16},
		Sizes: []int{c.Ops}, Impls: impls, Baseline: bench.ImplJSONL,
		RunTime: c.RunTime, LookupTime: c.LookupTime, Progress: c.Progress,
	}
	var err error
	if rep.TimeOrdered, err = bench.Run(ctx, base); err != nil {
		return rep, fmt.Errorf("time-ordered op ids: %w", err)
	}
	scattered := base
	scattered.ScatteredOpIDs = true
	scattered.Impls = nil
	for _, im := range impls {
		im.Load = nil // the size figures are the time-ordered run's
		scattered.Impls = append(scattered.Impls, im)
	}
	if rep.Scattered, err = bench.Run(ctx, scattered); err != nil {
		return rep, fmt.Errorf("scattered op ids: %w", err)
	}
	if rep.Compacted, err = compacted(ctx, c.Dir, c.Ops); err != nil {
		return rep, err
	}
	rep.Rows = rep.rows()
	return rep, nil
}

// compacted loads the store's fixture of the log the harness generates
// for ops ops (the same options, so the same records) and compacts it.
func compacted(ctx context.Context, dir string, ops int) (*Compacted, error) {
	tmp, err := os.MkdirTemp(dir, "opjournal-peers-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	log := filepath.Join(tmp, "ops.jsonl")
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	_, err = bench.Generate(ctx, f, bench.GenOptions{Ops: ops})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("compacted store: %w", err)
	}
	path := filepath.Join(tmp, "store.journal")
	if err := bench.BBolt().Load(ctx, log, path); err != nil {
		return nil, fmt.Errorf("compacted store: %w", err)
	}
	c := &Compacted{Ops: ops}
	if c.FileBefore, c.DiskBefore, err = fileSize(path); err != nil {
		return nil, err
	}
	if _, err := store.Compact(ctx, path, nil); err != nil {
		return nil, fmt.Errorf("compacted store: %w", err)
	}
	if c.FileAfter, c.DiskAfter, err = fileSize(path); err != nil {
		return nil, err
	}
	return c, nil
}

// The figures' names in Rows.
func appendFigure(w int, order string) string {
	return fmt.Sprintf("appends/s, %d writer%s, %s op ids", w, plural(w), order)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// median of the values f takes over reps.
func median(reps []bench.Latency, f func(bench.Latency) float64) float64 {
	xs := make([]float64, len(reps))
	for i, l := range reps {
		xs[i] = f(l)
	}
	return bench.Median(xs)
}

func p50(l bench.Latency) float64 { return float64(l.P50) }

// rows derives the table from the results.
func (r *Report) rows() []Row {
	var rows []Row
	for _, order := range []struct {
		name string
		res  *bench.Results
	}{{"time-ordered", r.TimeOrdered}, {"scattered", r.Scattered}} {
		if order.res == nil {
			continue
		}
		for _, w := range r.Config.Writers {
			row := Row{Figure: appendFigure(w, order.name), Unit: "appends/s", Values: map[string]float64{}}
			for _, impl := range r.Impls {
				if a := order.res.Append(w, impl); a != nil {
					row.Values[impl] = a.Rate()
				}
			}
			rows = append(rows, row)
		}
		for _, l := range order.res.Lifecycles {
			name := fmt.Sprintf("lifecycles/s, %d writers, %s op ids", l.Writers, order.name)
			i := slices.IndexFunc(rows, func(row Row) bool { return row.Figure == name })
			if i < 0 {
				rows = append(rows, Row{Figure: name, Unit: "lifecycles/s", Values: map[string]float64{}})
				i = len(rows) - 1
			}
			rows[i].Values[l.Impl] = l.Rate()
		}
	}
	if r.TimeOrdered == nil {
		return rows
	}
	ops := r.Config.Ops
	inFlight := 0
	if lg := r.TimeOrdered.Log(ops); lg != nil {
		inFlight = lg.InFlight
	}
	n := fmtCount(ops)
	sizeRows := []struct {
		figure, unit string
		get          func(*bench.SizeResult) float64
	}{
		{"Latest p50, " + n + " ops, random order", "ns", func(z *bench.SizeResult) float64 { return median(z.Latest.Reps, p50) }},
		{"AlreadyApplied p50, " + n + " ops", "ns", func(z *bench.SizeResult) float64 { return median(z.AlreadyApplied.Reps, p50) }},
		{"open, " + n + " ops", "ns", func(z *bench.SizeResult) float64 { return median(z.Open.Reps, p50) }},
		{fmt.Sprintf("InFlight p50, %s of %s ops in flight", fmtCount(inFlight), n), "ns",
			func(z *bench.SizeResult) float64 { return median(z.InFlight.Reps, p50) }},
		{"bytes on disk per op, " + n + " ops", "bytes", func(z *bench.SizeResult) float64 { return z.DiskPerOp() }},
	}
	for _, s := range sizeRows {
		row := Row{Figure: s.figure, Unit: s.unit, Values: map[string]float64{}}
		for _, impl := range r.Impls {
			if z := r.TimeOrdered.Size(ops, impl); z != nil {
				row.Values[impl] = s.get(z)
			}
		}
		rows = append(rows, row)
	}
	if c := r.Compacted; c != nil {
		rows = append(rows, Row{Figure: "bytes on disk per op, after store.Compact", Unit: "bytes",
			Values: map[string]float64{bench.ImplBBolt: float64(c.DiskAfter) / float64(c.Ops)}})
	}
	return rows
}

// The ratio columns: the store's figure over a peer's, so for a rate more
// is better and for a time or a size less is.
var ratioCols = []string{ImplPebble, ImplSQLiteBatched}

// WriteTable writes the report as text: the run, the engines' settings,
// the table (medians over rounds) and the store's ratios to the peers.
func (r *Report) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	if t := r.TimeOrdered; t != nil {
		e := t.Env
		fmt.Fprintf(ew, "opjournal bench-peers: %s/%s, %s, %d CPUs, %s; dir %s (%s)\n",
			e.GOOS, e.GOARCH, e.CPU, e.NumCPU, e.GoVersion, e.Dir, e.FileSystem)
		took := e.Elapsed
		if r.Scattered != nil {
			took += r.Scattered.Env.Elapsed
		}
		fmt.Fprintf(ew, "started %s, took %s; %d interleaved rounds per op id order, %s per append run, %s per lookup run\n",
			e.Started.Format("2006-01-02 15:04:05Z07:00"), took.Round(time.Second), r.Config.Rounds,
			r.Config.RunTime, r.Config.LookupTime)
	}
	fmt.Fprintln(ew, "figures are medians over rounds; appends are durable before they return; lookups from 1 goroutine, warm page cache")
	fmt.Fprintln(ew, "op ids: time-ordered from a counter (as the harness makes them), scattered as UUIDv4-shaped hashes of those")
	fmt.Fprintln(ew, "fixtures of the size rows are bulk loaded from the same generated log (1% of ops left in flight); bytes are blocks allocated")
	fmt.Fprintln(ew)
	for _, s := range r.Settings {
		fmt.Fprintln(ew, s)
	}
	for _, res := range []*bench.Results{r.TimeOrdered, r.Scattered} {
		if res != nil {
			for _, warn := range res.Env.Warnings {
				fmt.Fprintln(ew, "WARNING: "+warn)
			}
		}
	}
	fmt.Fprintln(ew)
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := []string{"figure"}
	for _, impl := range r.Impls {
		header = append(header, displayName(impl))
	}
	for _, c := range ratioCols {
		header = append(header, "store/"+c)
	}
	fmt.Fprintf(tw, "%s\t\n", strings.Join(header, "\t"))
	for _, row := range r.Rows {
		cells := []string{row.Figure}
		for _, impl := range r.Impls {
			v, ok := row.Values[impl]
			cells = append(cells, fmtValue(row.Unit, v, ok))
		}
		for _, c := range ratioCols {
			s, okS := row.Values[bench.ImplBBolt]
			p, okP := row.Values[c]
			cell := "-"
			if q, ok := bench.Ratio(s, p); ok && okS && okP {
				cell = fmt.Sprintf("%.2fx", q)
			}
			cells = append(cells, cell)
		}
		fmt.Fprintf(tw, "%s\t\n", strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if c := r.Compacted; c != nil {
		fmt.Fprintf(ew, "\nstore of %s ops, bulk loaded: %s on disk, after store.Compact: %s\n",
			fmtCount(c.Ops), fmtBytes(c.DiskBefore), fmtBytes(c.DiskAfter))
	}
	return ew.err
}

// WriteJSON writes the whole report, the harness's results included.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// displayName is an impl's name in the table and the chart.
func displayName(impl string) string {
	switch impl {
	case bench.ImplBBolt:
		return "store"
	case bench.ImplJSONL:
		return "legacy JSONL"
	}
	return impl
}

// WriteChart draws appends/s against writers for each impl, time-ordered
// op ids on the left and scattered ones on the right, into path: a PNG, or
// an SVG if path ends in .svg.
func (r *Report) WriteChart(path string) error {
	var panels []*plot.Plot
	for _, order := range []struct {
		name string
		res  *bench.Results
	}{{"time-ordered", r.TimeOrdered}, {"scattered", r.Scattered}} {
		if order.res == nil {
			continue
		}
		p, err := r.appendPanel(order.name, order.res)
		if err != nil {
			return fmt.Errorf("peers: chart %s: %w", path, err)
		}
		panels = append(panels, p)
	}
	if len(panels) == 0 {
		return fmt.Errorf("peers: chart %s: no appends to draw", path)
	}
	// Both panels on one scale, so that their lines compare.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range panels {
		lo, hi = min(lo, p.Y.Min), max(hi, p.Y.Max)
	}
	for _, p := range panels {
		p.Y.Min, p.Y.Max = lo*0.5, hi*8 // room for the legend
	}
	w, h := 14*vg.Centimeter*vg.Length(len(panels)), 13*vg.Centimeter
	var c vg.CanvasWriterTo
	if strings.HasSuffix(strings.ToLower(path), ".svg") {
		c = vgsvg.New(w, h)
	} else {
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(120))}
	}
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Millimeter * 4, PadTop: vg.Millimeter * 2,
		PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	canvases := plot.Align([][]*plot.Plot{panels}, tiles, draw.New(c))
	for i, p := range panels {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("peers: chart: %w", err)
	}
	_, err = c.WriteTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("peers: chart %s: %w", path, err)
	}
	return nil
}

// appendPanel is one op id order's appends/s against writers.
func (r *Report) appendPanel(order string, res *bench.Results) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Durable appends, " + order + " op ids"
	p.X.Label.Text = "concurrent writers"
	p.Y.Label.Text = "appends/s (median over rounds)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	var ticks []plot.Tick
	for _, w := range r.Config.Writers {
		ticks = append(ticks, plot.Tick{Value: float64(w), Label: strconv.Itoa(w)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs = vg.Points(8)
	p.Add(plotter.NewGrid())
	drawn := 0
	for i, impl := range r.Impls {
		var xys plotter.XYs
		for _, w := range r.Config.Writers {
			if a := res.Append(w, impl); a != nil && a.Rate() > 0 {
				xys = append(xys, plotter.XY{X: float64(w), Y: a.Rate()})
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		l.Color, pts.Color = plotutil.Color(i), plotutil.Color(i)
		l.Width = vg.Points(1.5)
		pts.Shape = plotutil.Shape(i)
		p.Add(l, pts)
		p.Legend.Add(displayName(impl), l, pts)
		drawn++
	}
	if drawn == 0 {
		return nil, fmt.Errorf("no appends with %s op ids", order)
	}
	p.X.Min *= 0.8
	p.X.Max *= 1.25
	return p, nil
}

// fmtValue formats a row's value: rates and bytes as whole numbers with
// commas, times with a unit.
func fmtValue(unit string, v float64, ok bool) string {
	if !ok || math.IsNaN(v) {
		return "-"
	}
	switch unit {
	case "ns":
		return fmtDur(time.Duration(v))
	default:
		return fmtCount(int(math.Round(v)))
	}
}

func fmtDur(d time.Duration) string {
	x := float64(d)
	switch {
	case d <= 0:
		return "-"
	case x < 1e3:
		return fmt.Sprintf("%.0f ns", x)
	case x < 1e6:
		return fmt.Sprintf("%.3g us", x/1e3)
	case x < 1e9:
		return fmt.Sprintf("%.3g ms", x/1e6)
	default:
		return fmt.Sprintf("%.3g s", x/1e9)
	}
}

func fmtCount(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + fmtCount(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// errWriter keeps the first write error.
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
