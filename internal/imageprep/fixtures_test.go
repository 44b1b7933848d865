package imageprep

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlserve/mlserve/internal/testsupport"
)

// fixtures returns the shared fixtures directory (../shared/fixtures
// relative to the repository root, or $MLSERVE_TEST_FIXTURES).
func fixtures(tb testing.TB) string { return testsupport.Fixtures(tb) }

func readFloats(tb testing.TB, path string) []float32 {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[i*4:]))
	}
	return out
}

// imageNet is the transform the fixtures were made with.
var imageNet = Config{ResizeShorter: 256, Crop: 224, Mean: ImageNetMean, Std: ImageNetStd}

func TestPrepareMatchesTorchvision(t *testing.T) {
	// Tolerances in normalized units (one uint8 level is 1/255/std, about
	// 0.017): lossless inputs go through the same arithmetic as PIL, so
	// they must agree closely; JPEGs are decoded with libjpeg-turbo's
	// arithmetic (islow IDCT, fancy upsampling, its colour tables), which
	// PIL uses, so they must be identical.
	tests := []struct {
		image           string
		w, h            int
		format          string
		maxMean, maxAbs float64
	}{
		{"cmyk-410x310.jpg", 410, 310, "jpeg", 0, 0},      // measured: exact
		{"dog-768x576.jpg", 768, 576, "jpeg", 0, 0},       // measured: exact
		{"exif-rot6-480x360.jpg", 360, 480, "jpeg", 0, 0}, // measured: exact
		{"gray-320x480.png", 320, 480, "png", 0.01, 0.05},
		{"palette-256x256.gif", 256, 256, "gif", 0.01, 0.05},
		{"rgba-300x300.png", 300, 300, "png", 0.01, 0.05},
		{"scene-500x375.png", 500, 375, "png", 0.01, 0.05},
		{"scene-640x427-q90.jpg", 640, 427, "jpeg", 0, 0},         // measured: exact
		{"scene-800x600-progressive.jpg", 800, 600, "jpeg", 0, 0}, // measured: exact
		{"tiny-60x45.png", 60, 45, "png", 0.01, 0.05},
		{"wide-1200x150.png", 1200, 150, "png", 0.01, 0.05},
	}
	dir := fixtures(t)
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "images", tt.image))
			if err != nil {
				t.Fatal(err)
			}
			want := readFloats(t, filepath.Join(dir, "preprocess", tt.image+".f32"))
			got := make([]float32, 3*224*224)
			info, err := Prepare(data, imageNet, got)
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			if info.Width != tt.w || info.Height != tt.h || info.Format != tt.format {
				t.Errorf("info = %dx%d %s, want %dx%d %s", info.Width, info.Height, info.Format, tt.w, tt.h, tt.format)
			}
			var sum, worst float64
			exact := 0
			for i := range got {
				d := math.Abs(float64(got[i]) - float64(want[i]))
				sum += d
				worst = max(worst, d)
				if got[i] == want[i] {
					exact++
				}
			}
			mean := sum / float64(len(got))
			t.Logf("mean abs %.5f, max abs %.5f, exact %.2f%%", mean, worst, 100*float64(exact)/float64(len(got)))
			if mean > tt.maxMean || worst > tt.maxAbs {
				t.Errorf("mean abs %.5f (limit %g), max abs %.5f (limit %g)", mean, tt.maxMean, worst, tt.maxAbs)
			}
		})
	}
}
