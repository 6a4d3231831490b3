package bench

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// sig3 formats a non-negative x below 1000 with three significant digits.
func sig3(x float64) string {
	switch {
	case x >= 99.95:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x >= 9.995:
		return strconv.FormatFloat(x, 'f', 1, 64)
	default:
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
}

// fmtDur formats a latency with three significant digits: 850ns, 168µs,
// 1.07s. Zero is "-".
func fmtDur(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	x := float64(d)
	for _, u := range []struct {
		scale float64
		name  string
	}{{1, "ns"}, {1e3, "µs"}, {1e6, "ms"}} {
		if x/u.scale < 999.5 {
			return sig3(x/u.scale) + u.name
		}
	}
	if s := x / 1e9; s < 999.5 {
		return sig3(s) + "s"
	}
	return strconv.FormatFloat(x/1e9, 'f', 0, 64) + "s"
}

// fmtRate formats calls per second: thousands grouped with commas above
// 1,000, three significant digits below. Zero is "-".
func fmtRate(x float64) string {
	if x == 0 || math.IsNaN(x) {
		return "-"
	}
	if x < 999.5 {
		return sig3(x)
	}
	return group(int64(math.Round(x)))
}

// group writes n with commas between thousands.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fmtBytes formats a byte count in binary units: 236 B, 1.50 KiB, 184 MiB.
func fmtBytes(x float64) string {
	sign := ""
	if x < 0 {
		sign, x = "-", -x
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for x >= 1023.5 && i < len(units)-1 {
		x /= 1024
		i++
	}
	if i == 0 {
		return sign + strconv.FormatFloat(x, 'f', 0, 64) + " B"
	}
	return sign + sig3(x) + " " + units[i]
}

// fmtRatio formats v/base in one style, a multiple: "15.0x", "0.59x",
// "0.047x", "0.00047x" (three significant digits, two below 0.1); "-" when
// there is nothing to compare with.
func fmtRatio(v, base float64) string {
	q, ok := Ratio(v, base)
	if !ok {
		return "-"
	}
	switch {
	case q == 0:
		return "0x"
	case q >= 999.5:
		return group(int64(math.Round(q))) + "x"
	case q >= 0.0995:
		return sig3(q) + "x"
	default: // two significant digits
		scale := math.Pow10(1 - int(math.Floor(math.Log10(q))))
		return strconv.FormatFloat(math.Round(q*scale)/scale, 'f', -1, 64) + "x"
	}
}

// fmtCount formats an integer with grouped thousands.
func fmtCount(n int) string { return group(int64(n)) }
