package bench

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// The charts WritePlots draws, each saved as <name>.svg and <name>.png.
const (
	ChartAppends = "append-throughput" // appends/s against writers, with the floors
	ChartOpen    = "open-time"         // open time against journal size, log-log
)

// Chart size.
const (
	chartWidth  = 20 * vg.Centimeter
	chartHeight = 12 * vg.Centimeter
)

// WritePlots draws the charts into dir (which must exist) as SVG and PNG
// files and returns their paths: appends/s against writers for each impl,
// with the fsync and bolt-update floors as dashed lines (ChartAppends), and
// open time against journal size on log-log axes (ChartOpen). A chart with
// nothing to show is left out.
func (r *Results) WritePlots(dir string) ([]string, error) {
	var paths []string
	for _, c := range []struct {
		name string
		draw func() (*plot.Plot, error)
	}{{ChartAppends, r.appendChart}, {ChartOpen, r.openChart}} {
		p, err := c.draw()
		if err != nil {
			return paths, fmt.Errorf("bench: chart %s: %w", c.name, err)
		}
		if p == nil {
			continue
		}
		for _, ext := range []string{".svg", ".png"} {
			path := filepath.Join(dir, c.name+ext)
			if err := p.Save(chartWidth, chartHeight, path); err != nil {
				_ = os.Remove(path)
				return paths, fmt.Errorf("bench: chart %s: %w", c.name, err)
			}
			paths = append(paths, path)
		}
	}
	return paths, nil
}

// errNoData says a chart has no positive value to draw on log axes.
var errNoData = errors.New("no data")

// series is one line of a chart.
type series struct {
	name string
	xys  plotter.XYs
}

func (r *Results) appendChart() (*plot.Plot, error) {
	var lines []series
	var writers []float64
	for _, impl := range r.Impls {
		s := series{name: impl}
		for _, a := range r.Appends {
			if a.Impl == impl && a.Rate() > 0 {
				s.xys = append(s.xys, plotter.XY{X: float64(a.Writers), Y: a.Rate()})
				writers = append(writers, float64(a.Writers))
			}
		}
		if len(s.xys) > 0 {
			lines = append(lines, s)
		}
	}
	if len(lines) == 0 {
		return nil, nil
	}
	lo, hi := bounds(writers)
	var floors []series
	for _, kind := range []string{FloorFsync, FloorBoltUpdate} {
		if f := r.Floor(kind); f != nil && f.Rate() > 0 {
			floors = append(floors, series{name: kind + " floor (1 writer)",
				xys: plotter.XYs{{X: lo, Y: f.Rate()}, {X: hi, Y: f.Rate()}}})
		}
	}
	p := newChart("Durable Append: throughput against concurrent writers", "writers", "appends/s")
	p.X.Tick.Marker = plot.ConstantTicks(writerTicks(writers))
	p.Y.Tick.Marker = decadeTicks{format: fmtRate}
	if err := addSeries(p, lines, floors); err != nil {
		return nil, err
	}
	pad(&p.X, 0.8, 1.25)
	pad(&p.Y, 0.6, 3) // headroom for the legend
	return p, nil
}

func (r *Results) openChart() (*plot.Plot, error) {
	var lines []series
	for _, impl := range r.Impls {
		s := series{name: impl}
		for i := range r.Sizes {
			z := &r.Sizes[i]
			if z.Impl == impl && z.Open.All.P50 > 0 {
				s.xys = append(s.xys, plotter.XY{X: float64(z.Ops), Y: z.Open.All.P50.Seconds()})
			}
		}
		if len(s.xys) > 0 {
			lines = append(lines, s)
		}
	}
	if len(lines) == 0 {
		return nil, nil
	}
	p := newChart("Open time against journal size (the legacy's open is its replay)", "ops in the journal", "open time (median)")
	p.X.Tick.Marker = decadeTicks{format: func(x float64) string { return fmtCount(int(x)) }}
	p.Y.Tick.Marker = decadeTicks{format: func(s float64) string {
		return trimZeros(fmtDur(time.Duration(math.Round(s * 1e9))))
	}}
	if err := addSeries(p, lines, nil); err != nil {
		return nil, err
	}
	pad(&p.X, 0.7, 1.4)
	pad(&p.Y, 0.5, 5) // headroom for the legend
	return p, nil
}

func newChart(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.X.Scale = plot.LogScale{}
	p.Y.Scale = plot.LogScale{}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(10)
	p.Legend.YOffs = -vg.Points(6)
	p.Add(plotter.NewGrid())
	return p
}

// addSeries draws lines as solid lines with points, one color each, and
// floors as dashed gray lines.
func addSeries(p *plot.Plot, lines, floors []series) error {
	for i, s := range lines {
		l, pts, err := plotter.NewLinePoints(s.xys)
		if err != nil {
			return err
		}
		l.Color, pts.Color = plotutil.Color(i), plotutil.Color(i)
		l.Width = vg.Points(1.5)
		pts.Shape = plotutil.Shape(i)
		p.Add(l, pts)
		p.Legend.Add(s.name, l, pts)
	}
	for i, s := range floors {
		l, err := plotter.NewLine(s.xys)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(len(lines) + i)
		l.Dashes = []vg.Length{vg.Points(6), vg.Points(3 + 3*float64(i))}
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	if p.X.Min <= 0 || p.Y.Min <= 0 {
		return errNoData
	}
	return nil
}

// pad widens an axis' range by the factors, which on a log axis is the
// same margin at both ends whatever the range.
func pad(a *plot.Axis, lo, hi float64) {
	a.Min *= lo
	a.Max *= hi
}

func bounds(xs []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

// trimZeros drops a number's trailing decimal zeros, "1.00s" to "1s", for
// tick labels that are round by construction.
func trimZeros(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r != '.' && (r < '0' || r > '9') })
	if i < 0 {
		i = len(s)
	}
	num, unit := s[:i], s[i:]
	if strings.Contains(num, ".") {
		num = strings.TrimRight(strings.TrimRight(num, "0"), ".")
	}
	return num + unit
}

// writerTicks are a tick at each number of writers measured.
func writerTicks(writers []float64) []plot.Tick {
	seen := map[float64]bool{}
	var ticks []plot.Tick
	for _, w := range writers {
		if !seen[w] {
			seen[w] = true
			ticks = append(ticks, plot.Tick{Value: w, Label: fmtCount(int(w))})
		}
	}
	return ticks
}

// decadeTicks mark a log axis at 1, 2 and 5 times each power of ten
// (labelled with format) and at the other multiples (unlabelled).
type decadeTicks struct {
	format func(float64) string
}

func (d decadeTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	if lo <= 0 || hi <= lo {
		return ticks
	}
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		base := math.Pow(10, e)
		for m := 1.0; m < 10; m++ {
			v := m * base
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = d.format(v)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}
