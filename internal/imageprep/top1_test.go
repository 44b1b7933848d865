package imageprep_test

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/jpeg/jpegtest"
	"github.com/mlserve/mlserve/internal/testsupport"
)

// softmaxGap returns p[i] - p[j] of softmax(logits).
func softmaxGap(logits []float32, i, j int) float64 {
	m := float64(slices.Max(logits))
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v) - m)
	}
	return (math.Exp(float64(logits[i])-m) - math.Exp(float64(logits[j])-m)) / sum
}

func argmax(v []float32) int {
	return slices.Index(v, slices.Max(v))
}

// TestTop1FastEqualsExact runs every fixture model on every fixture image
// preprocessed both ways (DCT-reduced JPEG decode, and ExactResize) and
// wants the same top-1 class.
func TestTop1FastEqualsExact(t *testing.T) {
	if testing.Short() {
		t.Skip("loads every fixture model")
	}
	dir := testsupport.Fixtures(t)
	models, _ := filepath.Glob(filepath.Join(dir, "models", "*.onnx"))
	families, _ := filepath.Glob(filepath.Join(dir, "families", "*.onnx"))
	models = append(models, families...)
	images, _ := filepath.Glob(filepath.Join(dir, "images", "*"))
	if len(models) == 0 || len(images) == 0 {
		t.Fatalf("%d models, %d images", len(models), len(images))
	}
	var names []string
	var datas [][]byte
	for _, path := range images {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		names, datas = append(names, filepath.Base(path)), append(datas, data)
	}
	// Phone-sized photos, which the fast path decodes at 1/8.
	photo := jpegtest.Photo12MP(t)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, photo, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	names = append(names, "12mp-baseline", "12mp-progressive")
	datas = append(datas, buf.Bytes(), jpegtest.Cjpeg(t, photo, "-quality", "92", "-progressive"))

	// Each image at the default margin and at margin 1 (which reduces the
	// 768x576 dog to 1/2), against the exact path.
	defer func(m float64) { *imageprep.JPEGMargin = m }(*imageprep.JPEGMargin)
	var fast, exact [][]float32
	var labels []string
	for _, margin := range []float64{*imageprep.JPEGMargin, 1} {
		*imageprep.JPEGMargin = margin
		for i, data := range datas {
			f, e := make([]float32, 3*224*224), make([]float32, 3*224*224)
			if _, err := imageprep.Prepare(data, imageprep.Config{}, f); err != nil {
				t.Fatalf("%s: %v", names[i], err)
			}
			if _, err := imageprep.Prepare(data, imageprep.Config{ExactResize: true}, e); err != nil {
				t.Fatalf("%s exact: %v", names[i], err)
			}
			if slices.Equal(f, e) {
				continue // same tensor (no reduction, or not a JPEG): same class
			}
			fast, exact = append(fast, f), append(exact, e)
			labels = append(labels, fmt.Sprintf("%s (margin %g)", names[i], margin))
		}
	}
	if len(labels) < 5 {
		t.Fatalf("only %d images take the reduced path: %v", len(labels), labels)
	}
	t.Logf("reduced: %v", labels)
	ctx := context.Background()
	for _, m := range models {
		t.Run(filepath.Base(m), func(t *testing.T) {
			c, err := infer.LoadFile(m, infer.Options{OptionalLabels: true})
			if err != nil {
				t.Fatal(err) // the engine runs every fixture family
			}
			lf, err := c.Logits(ctx, fast)
			if err != nil {
				t.Fatal(err)
			}
			le, err := c.Logits(ctx, exact)
			if err != nil {
				t.Fatal(err)
			}
			family := strings.Contains(m, string(filepath.Separator)+"families"+string(filepath.Separator))
			for i := range labels {
				a, b := argmax(lf[i]), argmax(le[i])
				if a == b {
					continue
				}
				gap := softmaxGap(le[i], b, a)
				// The families' random weights make their top-1 chaotic: a
				// mean change of 0.011 (0.6 of a level, the 12 MP photos at
				// 1/8) moves mobilenetv2's and shufflenet's on the
				// progressive one, with an exact-path probability gap of 0.99
				// and 0.48, and they move between JPEG decoders too (issue
				// 16's notes). Their swaps are reported, not failed; the
				// fixture ResNets must keep every top-1.
				if family {
					t.Logf("%s: top-1 %d (fast), %d (exact); exact probability gap %.4f", labels[i], a, b, gap)
					continue
				}
				t.Errorf("%s: top-1 %d (fast), %d (exact); exact probability gap %.4f", labels[i], a, b, gap)
			}
		})
	}
}
