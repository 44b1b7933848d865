package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Stages of one image, the label values of mlserve_stage_duration_seconds.
const (
	stageQueue      = "queue"
	stageDecode     = "decode"
	stagePreprocess = "preprocess"
	stageInference  = "inference"
)

// metrics are the server's Prometheus collectors, on a registry of its own
// so tests and embedders never collide with the global one.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec   // handler, code
	duration  *prometheus.HistogramVec // handler
	stage     *prometheus.HistogramVec // stage
	inFlight  prometheus.Gauge
	batchSize prometheus.Histogram
	images    *prometheus.CounterVec // result: ok or an error code
	loadTime  prometheus.Gauge
	ready     prometheus.Gauge
}

func newMetrics(maxBatch int) *metrics {
	// Latency buckets from 0.5 ms to ~33 s: the mini model's batches take
	// a few ms, ResNet-50's around a second on two cores.
	latency := prometheus.ExponentialBuckets(0.0005, 2, 17)
	sizes := make([]float64, 0, maxBatch)
	for i := 1; i <= maxBatch; i++ {
		sizes = append(sizes, float64(i))
	}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlserve_http_requests_total",
			Help: "HTTP requests by route and status code.",
		}, []string{"handler", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mlserve_http_request_duration_seconds",
			Help:    "HTTP request latency by route, from the handler's start to its last write.",
			Buckets: latency,
		}, []string{"handler"}),
		stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mlserve_stage_duration_seconds",
			Help:    "Per-image time spent in each stage: queue (waiting for the batcher), decode, preprocess, inference (the whole engine batch).",
			Buckets: latency,
		}, []string{"stage"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mlserve_http_in_flight_requests",
			Help: "HTTP requests being served.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mlserve_batch_size",
			Help:    "Images per engine run formed by the dynamic batcher.",
			Buckets: sizes,
		}),
		images: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlserve_images_total",
			Help: "Images classified, by result: ok or the error code.",
		}, []string{"result"}),
		loadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mlserve_model_load_seconds",
			Help: "Time to load the model, without the warm-up inference.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mlserve_ready",
			Help: "1 when the model is loaded and warmed up and the server is not draining.",
		}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.stage, m.inFlight, m.batchSize,
		m.images, m.loadTime, m.ready,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeStage(stage string, d time.Duration) {
	m.stage.WithLabelValues(stage).Observe(d.Seconds())
}
