package metrics_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/felhom/opjournal/metrics"
	"github.com/felhom/opjournal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.Metric {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]*dto.Metric{}
	for _, f := range fams {
		require.Len(t, f.GetMetric(), 1, f.GetName())
		out[f.GetName()] = f.GetMetric()[0]
	}
	return out
}

func TestCollector(t *testing.T) {
	j, err := store.Open(filepath.Join(t.TempDir(), "ops.db"), nil)
	require.NoError(t, err)
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for _, e := range []store.JournalEntry{
		{OpID: "a", VMID: 101, State: store.OpStarted, IdempKey: "k", At: at},
		{OpID: "a", VMID: 101, State: store.OpSucceeded, IdempKey: "k", At: at},
		{OpID: "b", VMID: 102, State: store.OpStarted, At: at},
	} {
		require.NoError(t, j.Append(e))
	}
	require.ErrorIs(t, j.BeginOnce(store.JournalEntry{OpID: "c", State: store.OpStarted, IdempKey: "k", At: at}), store.ErrAlreadyApplied)

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.NewCollector(j, &metrics.Options{ConstLabels: prometheus.Labels{"journal": "ops"}}))
	m := gather(t, reg)
	require.Equal(t, 1.0, m["opjournal_up"].GetGauge().GetValue())
	require.Equal(t, 3.0, m["opjournal_appends_total"].GetCounter().GetValue())
	require.Equal(t, 1.0, m["opjournal_rejected_total"].GetCounter().GetValue())
	commits := m["opjournal_commits_total"].GetCounter().GetValue()
	require.Equal(t, 4.0, commits, "three appends and the rejected BeginOnce's transaction")
	require.Equal(t, 2*commits, m["opjournal_fsyncs_total"].GetCounter().GetValue())
	require.Equal(t, 0.0, m["opjournal_commit_failures_total"].GetCounter().GetValue())
	// Each commit writes its meta page, and each append's at least one
	// data page besides.
	require.GreaterOrEqual(t, m["opjournal_pages_written_total"].GetCounter().GetValue(), commits+3)
	require.Equal(t, uint64(commits), m["opjournal_commit_duration_seconds"].GetHistogram().GetSampleCount())
	require.Positive(t, m["opjournal_commit_duration_seconds"].GetHistogram().GetSampleSum())
	group := m["opjournal_group_size"].GetHistogram()
	require.Equal(t, uint64(commits), group.GetSampleCount())
	require.Equal(t, uint64(commits), group.GetBucket()[0].GetCumulativeCount(), "every group was one call")
	require.Equal(t, 1.0, m["opjournal_inflight_ops"].GetGauge().GetValue())
	require.Positive(t, m["opjournal_file_size_bytes"].GetGauge().GetValue())
	require.Positive(t, m["opjournal_page_size_bytes"].GetGauge().GetValue())
	require.Equal(t, "ops", m["opjournal_up"].GetLabel()[0].GetValue())
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP opjournal_inflight_ops Ops whose latest state is neither succeeded nor failed.
# TYPE opjournal_inflight_ops gauge
opjournal_inflight_ops{journal="ops"} 1
`), "opjournal_inflight_ops"))

	// A closed journal: up is 0, the counters stand, the gauges are gone,
	// and the scrape itself still succeeds.
	require.NoError(t, j.Close())
	m = gather(t, reg)
	require.Equal(t, 0.0, m["opjournal_up"].GetGauge().GetValue())
	require.Equal(t, float64(commits+1), m["opjournal_commits_total"].GetCounter().GetValue(), "and Close's merge of the tail")
	require.NotContains(t, m, "opjournal_inflight_ops")
	require.NotContains(t, m, "opjournal_file_size_bytes")
	require.Equal(t, 9, testutil.CollectAndCount(metrics.NewCollector(j, nil)), "up, 6 counters, 2 histograms")
}
