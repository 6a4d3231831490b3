// Package metrics exports an opjournal store's metrics to Prometheus: a
// prometheus.Collector over (*store.Journal).Metrics, kept out of package
// store so that a journal does not make every program depend on Prometheus.
//
//	j, err := store.Open(path, nil)
//	...
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(metrics.NewCollector(j, &metrics.Options{ConstLabels: prometheus.Labels{"journal": "ops"}}))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Each scrape calls Metrics once: counters and histograms are read from
// memory, the gauges cost one read transaction and a walk of the in-flight
// index. When Metrics fails (the journal is closed or poisoned),
// opjournal_up is 0 and only the counters and histograms are reported (so
// opjournal_commit_failures_total shows the failed commit that poisoned the
// handle), not the gauges: a scrape never fails because of the journal, and
// an alert can watch opjournal_up.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/felhom/opjournal/store"
)

// Options configure a Collector. A nil *Options means none.
type Options struct {
	// ConstLabels are added to every metric, for a process with several
	// journals, e.g. {"journal": "ops"}.
	ConstLabels prometheus.Labels
}

// Collector is a prometheus.Collector for one journal.
type Collector struct {
	j *store.Journal

	up, appends, rejected, commits, failures, fsyncs *prometheus.Desc
	pagesWritten                                     *prometheus.Desc
	commitSeconds, groupSize                         *prometheus.Desc
	inflight, fileSize, pageSize, freePages          *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a collector for j. Register it once per journal.
func NewCollector(j *store.Journal, opts *Options) *Collector {
	var labels prometheus.Labels
	if opts != nil {
		labels = opts.ConstLabels
	}
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("opjournal_"+name, help, nil, labels)
	}
	return &Collector{
		j:             j,
		up:            d("up", "1 if the journal answered this scrape, 0 if it is closed or failed (then only counters and histograms are reported)."),
		appends:       d("appends_total", "Records committed: Append, BeginOnce and AppendBatch entries."),
		rejected:      d("rejected_total", "BeginOnce calls refused because the key was applied or held by another in-flight op."),
		commits:       d("commits_total", "Read-write transactions committed."),
		failures:      d("commit_failures_total", "Transactions whose commit failed; each poisons the journal handle."),
		fsyncs:        d("fsyncs_total", "fsyncs caused by the journal: two per commit (bbolt syncs data, then the meta page), one per Sync."),
		pagesWritten:  d("pages_written_total", "Page writes of committed transactions: each data page (with its overflow) and each meta page."),
		commitSeconds: d("commit_duration_seconds", "Latency of committed read-write transactions, from begin to the end of the last fsync."),
		groupSize:     d("group_size", "Calls that shared one group commit."),
		inflight:      d("inflight_ops", "Ops whose latest state is neither succeeded nor failed."),
		fileSize:      d("file_size_bytes", "Size of the journal file."),
		pageSize:      d("page_size_bytes", "bbolt page size of the journal file."),
		freePages:     d("free_pages", "Pages free for reuse inside the file, or pending until older readers finish; opjournal compact returns them to the file system."),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.appends, c.rejected, c.commits, c.failures, c.fsyncs, c.pagesWritten,
		c.commitSeconds, c.groupSize, c.inflight, c.fileSize, c.pageSize, c.freePages} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	m, err := c.j.Metrics()
	up := 1.0
	if err != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
	for _, x := range []struct {
		d *prometheus.Desc
		v uint64
	}{{c.appends, m.Appends}, {c.rejected, m.Rejected}, {c.commits, m.Commits}, {c.failures, m.CommitFailures}, {c.fsyncs, m.Fsyncs}, {c.pagesWritten, m.PagesWritten}} {
		ch <- prometheus.MustNewConstMetric(x.d, prometheus.CounterValue, float64(x.v))
	}
	ch <- histogram(c.commitSeconds, m.CommitSeconds)
	ch <- histogram(c.groupSize, m.GroupSize)
	if err != nil {
		return // closed or poisoned: the counters stand, the gauges are unknown
	}
	ch <- prometheus.MustNewConstMetric(c.inflight, prometheus.GaugeValue, float64(m.InFlight))
	ch <- prometheus.MustNewConstMetric(c.fileSize, prometheus.GaugeValue, float64(m.FileSize))
	ch <- prometheus.MustNewConstMetric(c.pageSize, prometheus.GaugeValue, float64(m.PageSize))
	ch <- prometheus.MustNewConstMetric(c.freePages, prometheus.GaugeValue, float64(m.FreePages))
}

func histogram(d *prometheus.Desc, h store.Histogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i, b := range h.Bounds {
		buckets[b] = h.Buckets[i]
	}
	return prometheus.MustNewConstHistogram(d, h.Count, h.Sum, buckets)
}
