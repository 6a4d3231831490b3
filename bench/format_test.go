package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{fmtDur(0), "-"},
		{fmtDur(850), "850ns"},
		{fmtDur(168 * time.Microsecond), "168µs"},
		{fmtDur(12345 * time.Nanosecond), "12.3µs"},
		{fmtDur(999_600 * time.Nanosecond), "1.00ms"},
		{fmtDur(1070 * time.Millisecond), "1.07s"},
		{fmtDur(2000 * time.Second), "2000s"},
		{fmtRate(0), "-"},
		{fmtRate(92.04), "92.0"},
		{fmtRate(5412.4), "5,412"},
		{fmtRate(1234567), "1,234,567"},
		{fmtBytes(236), "236 B"},
		{fmtBytes(1536), "1.50 KiB"},
		{fmtBytes(184 << 20), "184 MiB"},
		{fmtBytes(-12 << 10), "-12.0 KiB"},
		{fmtRatio(3000, 5000), "0.60x"},
		{fmtRatio(75000, 5000), "15.0x"},
		{fmtRatio(1, 2140), "0.00047x"},
		{fmtRatio(196e3, 15e9), "0.000013x"},
		{fmtRatio(1, 20), "0.05x"},
		{fmtRatio(1, 101), "0.0099x"},
		{fmtRatio(5e6, 1), "5,000,000x"},
		{fmtRatio(1, 0), "-"},
		{fmtBytes(float64(heapGrowth(5<<20, 4<<20))), "0 B"},
		{fmtBytes(float64(heapGrowth(4<<20, 5<<20))), "1.00 MiB"},
		{value(13333.3), "13333"},
		{value(12.345), "12.3"},
		{value(1.5), "1.50"},
		{value(0.00012345), "0.000123"},
	} {
		require.Equal(t, tc.want, tc.got)
	}
}
