package jpeg

import (
	"bytes"
	stdjpeg "image/jpeg"
	"sync"
	"testing"

	"github.com/mlserve/mlserve/internal/jpeg/jpegtest"
)

var (
	bench12Once             sync.Once
	bench12Base, bench12Pro []byte
)

// photos12MP returns the 12 MP photo as a baseline JPEG (image/jpeg, q92,
// 4:2:0) and as a progressive one (cjpeg -progressive, q92, 4:2:0).
func photos12MP(b *testing.B) (baseline, progressive []byte) {
	bench12Once.Do(func() {
		img := photo12MP(b)
		var buf bytes.Buffer
		if err := stdjpeg.Encode(&buf, img, &stdjpeg.Options{Quality: 92}); err != nil {
			b.Fatal(err)
		}
		bench12Base = buf.Bytes()
		bench12Pro = cjpeg(b, img, "-quality", "92", "-sample", "2x2", "-progressive")
	})
	return bench12Base, bench12Pro
}

// BenchmarkDecode12MP times this package at each scale against
// image/jpeg on the same data, in the same run.
func BenchmarkDecode12MP(b *testing.B) {
	base, prog := photos12MP(b)
	for _, f := range []struct {
		name string
		data []byte
	}{{"baseline", base}, {"progressive", prog}} {
		b.Run(f.name+"/stdlib", func(b *testing.B) {
			b.SetBytes(int64(len(f.data)))
			cpu0 := jpegtest.CPUTime()
			for b.Loop() {
				if _, err := stdjpeg.Decode(bytes.NewReader(f.data)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(jpegtest.CPUTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
		})
		for _, scale := range []int{1, 2, 4, 8} {
			b.Run(f.name+"/scale"+string(rune('0'+scale)), func(b *testing.B) {
				b.SetBytes(int64(len(f.data)))
				cpu0 := jpegtest.CPUTime()
				for b.Loop() {
					if _, err := Decode(f.data, Options{Scale: scale}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(jpegtest.CPUTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
			})
		}
	}
}
