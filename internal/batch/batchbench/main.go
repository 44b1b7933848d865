// Command batchbench measures `mlserve batch` against the engine alone:
//
//   - throughput of batch.Run over a local folder of N JPEGs, against the
//     engine's own Run throughput on the same images at the same batch size
//     (the pipeline should hide reading, decoding and writing: >= 0.9x);
//   - peak RSS of the mlserve binary over 64 and 1024 inputs (bounded queues
//     keep it flat: within 20%);
//   - with -photo-ratio, only issue 11's measure: binaries alternating over
//     768x576 and 12 MP photos, the CPU per image of each, their throughput
//     ratio and the peak RSS gap (photos.go).
//
// Run it with `make bench-batch` (see mk/batch.mk) or `make
// bench-batch-photo-ratio` (mk/jpeg.mk).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/jpeg"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/mlserve/mlserve/internal/batch"
	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/jpeg/jpegtest"
	"github.com/mlserve/mlserve/models"
)

func main() {
	fixtures := flag.String("fixtures", "../shared/fixtures", "fixtures directory")
	model := flag.String("model", "", "model for throughput (default: <fixtures>/models/resnet50-opset11.onnx)")
	n := flag.Int("n", 64, "inputs for the throughput run")
	bs := flag.Int("batch-size", 8, "engine batch size")
	rounds := flag.Int("rounds", 2, "throughput rounds (best of)")
	bin := flag.String("bin", "", "mlserve binary for the RSS runs (empty: skip them)")
	rssModel := flag.String("rss-model", "", "model for the RSS runs (default: -model)")
	rssSizes := flag.String("rss-sizes", "64,1024", "input counts of the RSS runs")
	photo := flag.String("photo", "", "inputs: one WxH photo (the fixture dog upscaled with noise, JPEG q92) instead of the fixture JPEGs")
	photoRounds := flag.Int("photo-ratio", 0, "only measure -bin (comma-separated binaries, alternating) over -n 768x576 and -n 12 MP photos for this many rounds: CPU per image, the throughput ratio and the peak RSS gap")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the batch pipeline's rounds to this file")
	heapProfile := flag.String("heapprofile", "", "write the heap profile of the last round's batch pipeline, taken at its largest live heap (after a collection), to this file")
	flag.Parse()
	if *model == "" {
		*model = filepath.Join(*fixtures, "models", "resnet50-opset11.onnx")
	}
	if *rssModel == "" {
		*rssModel = *model
	}
	if *heapProfile != "" {
		runtime.MemProfileRate = 16 << 10 // every input buffer, not one in 512 KiB
	}
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "batchbench-")
	check(err)
	defer os.RemoveAll(tmp)
	if *photoRounds > 0 {
		if *bin == "" {
			log.Fatal("-photo-ratio needs -bin")
		}
		photoRatio(*fixtures, *rssModel, *bin, tmp, *n, *photoRounds, *bs)
		return
	}
	jpegs := fixtureJPEGs(*fixtures)
	if *photo != "" {
		jpegs = [][]byte{makePhoto(*fixtures, *photo)}
	}

	man := models.Default()
	c, err := infer.LoadFile(*model, infer.Options{
		Labels:     models.ImageNetLabels(),
		Preprocess: imageprep.Config{ResizeShorter: man.ResizeSize, Crop: man.InputSize, Mean: man.Mean, Std: man.Std},
	})
	check(err)
	in := filepath.Join(tmp, "in")
	files := makeInputs(in, jpegs, *n)
	fmt.Printf("model %s, %d JPEGs, batch size %d, GOMAXPROCS %d\n", filepath.Base(*model), *n, *bs, runtime.GOMAXPROCS(0))

	// The engine alone: prepared inputs, Run in batches.
	inputs := make([]*infer.Input, len(files))
	t0 := time.Now()
	for i, f := range files {
		data, err := os.ReadFile(f)
		check(err)
		inputs[i], err = c.Prepare(data)
		check(err)
	}
	prep := time.Since(t0)
	_, err = c.Run(ctx, inputs[:*bs], 5) // warm-up: plans and arenas
	check(err)
	var engine, pipeline, engineCPU, pipelineCPU float64
	for r := range *rounds {
		t0, c0 := time.Now(), cpuTime()
		for i := 0; i < len(inputs); i += *bs {
			_, err := c.Run(ctx, inputs[i:min(i+*bs, len(inputs))], 5)
			check(err)
		}
		if v := float64(len(inputs)) / time.Since(t0).Seconds(); v > engine {
			engine, engineCPU = v, (cpuTime()-c0).Seconds()/time.Since(t0).Seconds()
		}

		out := filepath.Join(tmp, fmt.Sprintf("out-%d", r))
		if *heapProfile != "" && r == *rounds-1 {
			// The last round is profiled: drop the engine run's inputs
			// first, so that the profile shows the pipeline alone.
			clear(inputs)
			runtime.GC()
		}
		stop := startProfile(*cpuProfile)
		stopHeap := startHeapProfile(*heapProfile)
		t0, c0 = time.Now(), cpuTime()
		sum, err := batch.Run(ctx, c, batch.Config{Input: in, Output: out, BatchSize: *bs, TopK: 5,
			ProgressEvery: -1, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		check(err)
		stop()
		stopHeap()
		if sum.Succeeded != len(files) {
			log.Fatalf("batch: %+v", sum)
		}
		if v := float64(len(files)) / time.Since(t0).Seconds(); v > pipeline {
			pipeline, pipelineCPU = v, (cpuTime()-c0).Seconds()/time.Since(t0).Seconds()
		}
	}
	fmt.Printf("prepare (decode+preprocess, 1 goroutine): %.1f img/s\n", float64(len(files))/prep.Seconds())
	fmt.Printf("engine Run:        %.2f img/s  (%.2f cores busy)\n", engine, engineCPU)
	fmt.Printf("batch pipeline:    %.2f img/s  (%.2f cores busy; %.2fx the engine)\n", pipeline, pipelineCPU, pipeline/engine)

	if *bin == "" {
		return
	}
	rssRuns(*bin, *rssModel, *rssSizes, tmp, jpegs, *bs)
}

// startProfile starts a CPU profile into path, or nothing for an empty
// path; the returned func stops it. Rounds after the first append nothing.
func startProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return func() {}
	}
	check(pprof.StartCPUProfile(f))
	return func() {
		pprof.StopCPUProfile()
		check(f.Close())
	}
}

// rssRuns runs bin's batch command over each count of inputs in sizes and
// prints its peak RSS against the first run's.
func rssRuns(bin, rssModel, sizes, tmp string, jpegs [][]byte, bs int) {
	var first int64
	for _, s := range strings.Split(sizes, ",") {
		var k int
		fmt.Sscan(s, &k)
		dir := filepath.Join(tmp, fmt.Sprintf("rss-%d", k))
		makeInputs(filepath.Join(dir, "in"), jpegs, k)
		cmd := exec.Command(bin, "batch", "--model", rssModel, "--input", filepath.Join(dir, "in"),
			"--output", filepath.Join(dir, "out"), "--batch-size", fmt.Sprint(bs), "--progress-interval", "1h")
		cmd.Env = append(os.Environ(), "MLSERVE_LOG_LEVEL=warn")
		cmd.Stderr = os.Stderr
		t0 := time.Now()
		rss := peakRSS(cmd)
		if first == 0 {
			first = rss
		}
		fmt.Printf("peak RSS %s, %5d inputs: %6.1f MiB (%.2fx the first) in %.1fs\n",
			filepath.Base(rssModel), k, float64(rss)/1024, float64(rss)/float64(first), time.Since(t0).Seconds())
	}
}

// peakRSS runs cmd to its end and returns its peak RSS in KiB: the child's
// own VmHWM, polled, because its rusage Maxrss would count this process's
// memory, which Linux records when the vfork'ed child execs.
func peakRSS(cmd *exec.Cmd) int64 {
	check(cmd.Start())
	var rss int64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if kib := vmHWM(cmd.Process.Pid); kib > rss {
				rss = kib
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	err := cmd.Wait()
	close(stop)
	<-done
	check(err)
	return rss
}

// vmHWM reads a process's peak resident set size in KiB from /proc, or 0.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kib)
			return kib
		}
	}
	return 0
}

// cpuTime is the user+system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func fixtureJPEGs(fixtures string) [][]byte {
	var out [][]byte
	paths, err := filepath.Glob(filepath.Join(fixtures, "images", "*.jpg"))
	check(err)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		check(err)
		out = append(out, data)
	}
	if len(out) == 0 {
		log.Fatalf("no JPEGs in %s/images", fixtures)
	}
	return out
}

// makeInputs writes n JPEGs, cycling through the fixtures, in 16 folders.
func makeInputs(dir string, jpegs [][]byte, n int) []string {
	var files []string
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%16), fmt.Sprintf("img-%05d.jpg", i))
		check(os.MkdirAll(filepath.Dir(p), 0o755))
		check(os.WriteFile(p, jpegs[i%len(jpegs)], 0o644))
		files = append(files, p)
	}
	return files
}

// makePhoto makes a size ("WxH") photo as issue 11 did: the fixture dog
// upscaled with noise, JPEG q92 4:2:0.
func makePhoto(fixtures, size string) []byte {
	var w, h int
	_, err := fmt.Sscanf(size, "%dx%d", &w, &h)
	check(err)
	data, err := os.ReadFile(filepath.Join(fixtures, "images", "dog-768x576.jpg"))
	check(err)
	dog, err := jpeg.Decode(bytes.NewReader(data))
	check(err)
	var buf bytes.Buffer
	check(jpeg.Encode(&buf, jpegtest.UpscaleNoisy(dog, w, h, 6), &jpeg.Options{Quality: 92}))
	return buf.Bytes()
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
