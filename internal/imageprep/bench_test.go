package imageprep

import (
	"bytes"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlserve/mlserve/internal/jpeg/jpegtest"
)

var cpuTime = jpegtest.CPUTime

// BenchmarkPrepare measures decode plus preprocessing of each fixture image.
func BenchmarkPrepare(b *testing.B) {
	dir := filepath.Join(fixtures(b), "images")
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, 3*224*224)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(e.Name(), func(b *testing.B) { benchPrepare(b, data, imageNet, dst) })
	}
}

// BenchmarkTensor measures preprocessing alone (conversion, resize, crop,
// normalization) of an already decoded image.
func BenchmarkTensor(b *testing.B) {
	dir := filepath.Join(fixtures(b), "images")
	dst := make([]float32, 3*224*224)
	for _, name := range []string{"dog-768x576.jpg", "scene-640x427-q90.jpg", "exif-rot6-480x360.jpg", "scene-500x375.png", "tiny-60x45.png"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		img, format, err := Decode(data, 0)
		if err != nil {
			b.Fatal(err)
		}
		src := source{img: img, orient: orientation(format, data)}
		b.Run(name, func(b *testing.B) {
			cpu0 := cpuTime()
			for b.Loop() {
				tensor(dst, src, imageNet)
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}

// BenchmarkPrepare12MP times decode plus preprocessing of 12 MP photos
// (issue 11), the DCT-reduced path against the full-size one (ExactResize,
// internal/jpeg at scale 1) and against image/jpeg's full-size decode (the
// path before internal/jpeg) in the same run. cpu-ms/op is the process CPU time per
// image: the wall clock on a shared machine is noise.
func BenchmarkPrepare12MP(b *testing.B) {
	photo := jpegtest.Photo12MP(b)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, photo, &jpeg.Options{Quality: 92}); err != nil {
		b.Fatal(err)
	}
	files := []struct {
		name string
		data []byte
	}{
		{"baseline", buf.Bytes()},
		{"progressive", jpegtest.Cjpeg(b, photo, "-quality", "92", "-sample", "2x2", "-progressive")},
	}
	dst := make([]float32, 3*224*224)
	for _, f := range files {
		for _, mode := range []struct {
			name string
			cfg  Config
		}{{"exact", Config{ExactResize: true}}, {"fast", Config{}}} {
			b.Run(f.name+"/"+mode.name, func(b *testing.B) { benchPrepare(b, f.data, mode.cfg, dst) })
		}
		// The fast path decoding as it reads (batch's large inputs).
		b.Run(f.name+"/stream", func(b *testing.B) {
			b.SetBytes(int64(len(f.data)))
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := PrepareReader(bytes.NewReader(f.data), Config{}, dst, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
		})
		// The anchor: the path before internal/jpeg, image/jpeg at full
		// size then the same resize.
		b.Run(f.name+"/stdlib", func(b *testing.B) {
			b.SetBytes(int64(len(f.data)))
			cpu0 := cpuTime()
			for b.Loop() {
				img, err := jpeg.Decode(bytes.NewReader(f.data))
				if err != nil {
					b.Fatal(err)
				}
				tensor(dst, source{img: img, orient: 1}, imageNet)
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}

// BenchmarkTensor12MP measures preprocessing alone of a 12 MP RGBA image
// (what image/png returns for an RGB PNG), which the horizontal pass reads
// in place.
func BenchmarkTensor12MP(b *testing.B) {
	img := jpegtest.Photo(4032, 3024, 1)
	dst := make([]float32, 3*224*224)
	src := source{img: img, orient: 1}
	cpu0 := cpuTime()
	for b.Loop() {
		tensor(dst, src, imageNet)
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

// benchPrepare times Prepare on data, reporting CPU, decode and preprocess
// milliseconds per image.
func benchPrepare(b *testing.B, data []byte, cfg Config, dst []float32) {
	b.SetBytes(int64(len(data)))
	var dec, pre int64
	cpu0 := cpuTime()
	for b.Loop() {
		info, err := Prepare(data, cfg, dst)
		if err != nil {
			b.Fatal(err)
		}
		dec += int64(info.DecodeTime)
		pre += int64(info.PreprocessTime)
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
	b.ReportMetric(float64(dec)/float64(b.N)/1e6, "decode-ms/op")
	b.ReportMetric(float64(pre)/float64(b.N)/1e6, "preprocess-ms/op")
}
