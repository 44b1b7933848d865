package client

import (
	"testing"

	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/testsupport"
)

// BenchmarkShrink is the client's cost per 12 MP photo, beside the decode
// alone (the anchor: what every path pays) and the server's whole
// preprocessing of the original.
func BenchmarkShrink(b *testing.B) {
	data := testsupport.Photo(b, 4000, 3000)
	b.Run("Decode/12MP", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := imageprep.Decode(data, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Shrink/12MP", func(b *testing.B) {
		for b.Loop() {
			if _, err := Shrink(data, DefaultShorter, DefaultQuality, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	dst := make([]float32, 3*224*224)
	b.Run("Prepare/12MP", func(b *testing.B) {
		for b.Loop() {
			if _, err := imageprep.Prepare(data, imageprep.Config{}, dst); err != nil {
				b.Fatal(err)
			}
		}
	})
}
