package imageprep

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// TestDecodeCostBoundsAllocations checks DecodeCost against what Prepare
// really allocates (runtime.MemStats.TotalAlloc, which is at least the
// peak it holds), one image at a time with an empty scratch pool: the
// estimate is never below it, and not far above (so a budget is not
// wasted).
func TestDecodeCostBoundsAllocations(t *testing.T) {
	type named struct {
		name string
		data []byte
	}
	var images []named
	files, err := filepath.Glob(filepath.Join(fixtures(t), "images", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("fixtures: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		images = append(images, named{filepath.Base(f), data})
	}
	for _, p := range largePhotos(t) {
		images = append(images, named{p.Name, p.Data})
	}
	images = append(images, named{"2000x1500-rgba64.png", png16(t, 2000, 1500)})

	dst := make([]float32, 3*224*224)
	var before, after runtime.MemStats
	for _, exact := range []bool{false, true} {
		cfg := imageNet
		cfg.ExactResize = exact
		for _, im := range images {
			cost, err := DecodeCost(im.data, cfg)
			if err != nil {
				t.Fatalf("%s: %v", im.name, err)
			}
			scratchPool = sync.Pool{New: func() any { return new(scratch) }}
			runtime.GC()
			runtime.ReadMemStats(&before)
			if _, err := Prepare(im.data, cfg, dst); err != nil {
				t.Fatalf("%s: %v", im.name, err)
			}
			runtime.ReadMemStats(&after)
			alloc := int64(after.TotalAlloc - before.TotalAlloc)
			t.Logf("exact=%v %-28s cost %8d KB, allocated %8d KB (%.2fx)", exact, im.name, cost>>10, alloc>>10, float64(cost)/float64(alloc))
			if cost < alloc {
				t.Errorf("exact=%v %s: DecodeCost %d below the %d bytes Prepare allocated", exact, im.name, cost, alloc)
			}
			// 8x: internal/jpeg reuses its scan buffers from a pool of its
			// own, so a JPEG after another allocates less than the first
			// (1.7 MB instead of 4.6 for a 12 MP one; 1.5x to 3.6x else).
			if cost > 8*alloc+1<<20 {
				t.Errorf("exact=%v %s: DecodeCost %d is over 8x the %d bytes Prepare allocated", exact, im.name, cost, alloc)
			}
		}
	}
}

func png16(t *testing.T, w, h int) []byte {
	img := image.NewRGBA64(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA64(x, y, color.RGBA64{uint16(x * 31), uint16(y * 17), uint16(x ^ y), 0xffff})
		}
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
