package imageprep

import (
	"os"
	"path/filepath"
	"testing"
)

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
		b.Run(e.Name(), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var dec, pre int64
			for b.Loop() {
				info, err := Prepare(data, imageNet, dst)
				if err != nil {
					b.Fatal(err)
				}
				dec += int64(info.DecodeTime)
				pre += int64(info.PreprocessTime)
			}
			b.ReportMetric(float64(dec)/float64(b.N)/1e6, "decode-ms/op")
			b.ReportMetric(float64(pre)/float64(b.N)/1e6, "preprocess-ms/op")
		})
	}
}
