package server

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/infer"
)

// Flags of the server-versus-engine measurements (mk/serve.mk passes them).
var (
	benchModel     = flag.String("serve.model", miniModel, "BenchmarkServe, TestServeBench: model file, a name under ../shared/fixtures/models or a path")
	benchImage     = flag.String("serve.image", "dog-768x576.jpg", "BenchmarkServe, TestServeBench: image, a name under ../shared/fixtures/images or a path")
	benchRounds    = flag.Int("serve.rounds", 0, "TestServeBench: measurement rounds (0 skips the test)")
	benchPerClient = flag.Int("serve.requests", 3, "TestServeBench: requests per client per round at 8 clients")
	benchWait      = flag.Duration("serve.batch-wait", 0, "BenchmarkServe, TestServeBench: Config.BatchWait (0: the default)")
	benchSingle    = flag.Int("serve.single", 5, "TestServeBench: one-client requests per round")
	benchOverlap   = flag.Bool("serve.overlap", false, "BenchmarkServe, TestServeBench: Config.Overlap")
)

func fixturePath(t testing.TB, dir, name string) string {
	if strings.ContainsRune(name, filepath.Separator) {
		return name
	}
	return filepath.Join(fixtures(t), dir, name)
}

// benchEnv is the engine, a server in front of it and the prepared image,
// loaded once per process.
type benchEnv struct {
	eng *infer.Classifier
	ts  *testServer
	img []byte
	in  *infer.Input
}

var (
	benchOnce sync.Once
	benchVal  *benchEnv
)

func loadBench(t testing.TB) *benchEnv {
	benchOnce.Do(func() {
		eng := loadModel(t, fixturePath(t, "models", *benchModel))
		img, err := os.ReadFile(fixturePath(t, "images", *benchImage))
		if err != nil {
			t.Fatal(err)
		}
		in, err := eng.Prepare(img)
		if err != nil {
			t.Fatal(err)
		}
		// Not start(): the server outlives the first test or benchmark.
		ts := &testServer{}
		ts.Server, ts.url = benchServer(t, eng)
		benchVal = &benchEnv{eng: eng, ts: ts, img: img, in: in}
	})
	if benchVal == nil {
		t.Fatal("benchmark setup failed")
	}
	return benchVal
}

func benchServer(t testing.TB, eng Engine) (*Server, string) {
	s := New(Config{BatchWait: *benchWait, Overlap: *benchOverlap, Logger: discardLogger()})
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln) //nolint:errcheck // lives until the process exits
	if err := s.Load(context.Background(), func(context.Context) (Engine, error) { return eng, nil }); err != nil {
		t.Fatal(err)
	}
	return s, "http://" + ln.Addr().String()
}

// client is an HTTP client keeping one connection per concurrent caller.
var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func postImage(url string, img []byte) error {
	_, err := postTimed(url, img)
	return err
}

// postTimed posts img and returns the server's share of the latency: the
// client's wall time minus the engine stages (decode, preprocess,
// inference) the response reports for this very request. It measures the
// added latency of the server without comparing two noisy runs.
func postTimed(url string, img []byte) (overhead time.Duration, err error) {
	t0 := time.Now()
	resp, err := benchClient.Post(url+"/predict", "image/jpeg", bytesReader(img))
	if err != nil {
		return 0, err
	}
	var r api.Result
	err = json.NewDecoder(resp.Body).Decode(&r)
	drain(resp)
	wall := time.Since(t0)
	if resp.StatusCode != 200 || err != nil || r.TimingsMs == nil {
		return 0, fmt.Errorf("status %d: %v", resp.StatusCode, err)
	}
	tm := r.TimingsMs
	engine := time.Duration((tm.Decode + tm.Preprocess + tm.Inference) * float64(time.Millisecond))
	return wall - engine, nil
}

func engineOnce(ctx context.Context, e *benchEnv, n int, prepare bool) error {
	inputs := make([]*infer.Input, n)
	for i := range inputs {
		inputs[i] = e.in
		if prepare {
			in, err := e.eng.Prepare(e.img)
			if err != nil {
				return err
			}
			inputs[i] = in
		}
	}
	_, err := e.eng.Run(ctx, inputs, 5)
	return err
}

// BenchmarkServe measures the server beside a direct engine call, with the
// mini model by default (-serve.model=resnet50-opset11.onnx for the real
// one):
//
//	Engine/Batch1    Prepare + Run of one image (what one request costs)
//	Server/Clients1  one request at a time over HTTP on 127.0.0.1
//	Engine/Batch8    Run of 8 prepared images (the engine's batch-8 rate)
//	Server/Clients8  8 concurrent clients through the dynamic batcher
func BenchmarkServe(b *testing.B) {
	e := loadBench(b)
	ctx := context.Background()
	report := func(b *testing.B, images int, lat []time.Duration) {
		b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "img/s")
		if len(lat) > 0 {
			slices.Sort(lat)
			b.ReportMetric(ms(percentile(lat, 50)), "p50-ms")
			b.ReportMetric(ms(percentile(lat, 99)), "p99-ms")
		}
	}
	b.Run("Engine/Batch1", func(b *testing.B) {
		var lat []time.Duration
		for b.Loop() {
			t0 := time.Now()
			if err := engineOnce(ctx, e, 1, true); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		report(b, b.N, lat)
	})
	b.Run("Server/Clients1", func(b *testing.B) {
		var lat, over []time.Duration
		for b.Loop() {
			t0 := time.Now()
			o, err := postTimed(e.ts.url, e.img)
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
			over = append(over, o)
		}
		report(b, b.N, lat)
		slices.Sort(over)
		b.ReportMetric(ms(percentile(over, 50)), "added-p50-ms")
	})
	b.Run("Engine/Batch8", func(b *testing.B) {
		for b.Loop() {
			if err := engineOnce(ctx, e, 8, false); err != nil {
				b.Fatal(err)
			}
		}
		report(b, 8*b.N, nil)
	})
	b.Run("Server/Clients8", func(b *testing.B) {
		var mu sync.Mutex
		var lat []time.Duration
		b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				t0 := time.Now()
				if err := postImage(e.ts.url, e.img); err != nil {
					b.Error(err)
					return
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
		report(b, b.N, lat)
	})
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

// TestServeBench is the acceptance measurement of the issue, run by `make
// bench-serve` with the ResNet-50 fixture. It alternates rounds of a
// direct engine call and the server on the same load, so both see the same
// machine noise, and reports:
//   - throughput at 8 concurrent clients against the engine's own batch-8
//     throughput (Run on prepared inputs, and Prepare+Run), with p50/p99;
//   - the median latency of one request at a time against Prepare+Run of
//     one image called directly: the server's added latency.
func TestServeBench(t *testing.T) {
	if *benchRounds <= 0 {
		t.Skip("set -serve.rounds to measure (make bench-serve)")
	}
	e := loadBench(t)
	ctx := context.Background()
	// Warm every batch size's plan in the engine so no round pays for it.
	for n := 1; n <= 8; n++ {
		if err := engineOnce(ctx, e, n, false); err != nil {
			t.Fatal(err)
		}
	}
	const clients = 8
	var (
		engRun, engPrep, srvWall time.Duration // totals over rounds
		srvImages                int
		srvLat, eng1, srv1, over []time.Duration
	)
	for round := range *benchRounds {
		t0 := time.Now()
		if err := engineOnce(ctx, e, clients, false); err != nil {
			t.Fatal(err)
		}
		engRun += time.Since(t0)
		t0 = time.Now()
		if err := engineOnce(ctx, e, clients, true); err != nil {
			t.Fatal(err)
		}
		engPrep += time.Since(t0)

		var mu sync.Mutex
		var wg sync.WaitGroup
		t0 = time.Now()
		for range clients {
			wg.Go(func() {
				for range *benchPerClient {
					r0 := time.Now()
					if err := postImage(e.ts.url, e.img); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					srvLat = append(srvLat, time.Since(r0))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		srvWall += time.Since(t0)
		srvImages += clients * *benchPerClient

		for range *benchSingle {
			t0 = time.Now()
			if err := engineOnce(ctx, e, 1, true); err != nil {
				t.Fatal(err)
			}
			eng1 = append(eng1, time.Since(t0))
			t0 = time.Now()
			o, err := postTimed(e.ts.url, e.img)
			if err != nil {
				t.Fatal(err)
			}
			srv1 = append(srv1, time.Since(t0))
			over = append(over, o)
		}
		t.Logf("round %d done", round+1)
	}
	rounds := float64(*benchRounds)
	engRate := clients * rounds / engRun.Seconds()
	engPrepRate := clients * rounds / engPrep.Seconds()
	srvRate := float64(srvImages) / srvWall.Seconds()
	slices.Sort(srvLat)
	slices.Sort(eng1)
	slices.Sort(srv1)
	added := percentile(srv1, 50) - percentile(eng1, 50)
	slices.Sort(over)
	t.Logf("model %s, image %s, GOMAXPROCS %d, %d rounds", *benchModel, *benchImage, runtime.GOMAXPROCS(0), *benchRounds)
	t.Logf("8 clients: server %.2f img/s, p50 %.0f ms, p99 %.0f ms", srvRate, ms(percentile(srvLat, 50)), ms(percentile(srvLat, 99)))
	t.Logf("engine batch 8: Run %.2f img/s, Prepare+Run %.2f img/s", engRate, engPrepRate)
	t.Logf("ratio server/engine: %.3f (Run only), %.3f (Prepare+Run)", srvRate/engRate, srvRate/engPrepRate)
	t.Logf("1 client: server median %.1f ms, engine Prepare+Run median %.1f ms, difference %.1f ms",
		ms(percentile(srv1, 50)), ms(percentile(eng1, 50)), ms(added))
	t.Logf("1 client: server's added latency (wall minus the request's own engine stages): median %.2f ms, max %.2f ms",
		ms(percentile(over, 50)), ms(over[len(over)-1]))
	t.Logf("server batch sizes (cumulative buckets since start): %s", metricsBatchSizes(e.ts.url))
}

// metricsBatchSizes reads mlserve_batch_size's buckets from /metrics.
func metricsBatchSizes(url string) string {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	var out []string
	for line := range strings.SplitSeq(string(text), "\n") {
		if strings.HasPrefix(line, "mlserve_batch_size_bucket") || strings.HasPrefix(line, "mlserve_batch_size_count") {
			out = append(out, strings.TrimPrefix(line, "mlserve_batch_size_"))
		}
	}
	return strings.Join(out, " ")
}
