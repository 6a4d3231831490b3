package metrics_test

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/felhom/opjournal/metrics"
	"github.com/felhom/opjournal/store"
)

func ExampleNewCollector() {
	dir, err := os.MkdirTemp("", "opjournal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	j, err := store.Open(filepath.Join(dir, "ops.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(j, &metrics.Options{ConstLabels: prometheus.Labels{"journal": "ops"}}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// http.ListenAndServe("localhost:9100", mux)

	// What a scrape reads:
	mfs, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "opjournal_up" {
			fmt.Println(mf.GetName(), mf.GetMetric()[0].GetGauge().GetValue())
		}
	}
	// Output: opjournal_up 1
}
