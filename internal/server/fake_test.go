package server

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/testsupport"
)

// fakeEngine is an in-process engine: real image decoding (imageprep, to a
// tiny 8x8 crop) and a trivial "model", with hooks to hold, slow down or
// fail Run. It exists in addition to the real-model tests.
type fakeEngine struct {
	maxPixels int
	delay     time.Duration // per Run
	hold      chan struct{} // when set, Run waits for a value (or close)
	running   chan struct{} // when set, Run sends here before holding
	err       error         // Run fails with it
	warmed    chan struct{} // closed by Warmup

	mu      sync.Mutex
	batches []int
}

const fakeCrop = 8

func newFake() *fakeEngine { return &fakeEngine{warmed: make(chan struct{})} }

func (f *fakeEngine) Info() infer.ModelInfo {
	return infer.ModelInfo{Name: "fake", SHA256: "00", InputSize: fakeCrop, Classes: 10, Labels: 10}
}

func (f *fakeEngine) Prepare(data []byte) (*infer.Input, error) {
	in := &infer.Input{Pixels: make([]float32, 3*fakeCrop*fakeCrop)}
	info, err := imageprep.Prepare(data, imageprep.Config{ResizeShorter: fakeCrop, Crop: fakeCrop, MaxPixels: f.maxPixels}, in.Pixels)
	if err != nil {
		return nil, err
	}
	in.Image = info
	return in, nil
}

func (f *fakeEngine) Run(ctx context.Context, inputs []*infer.Input, topK int) ([]infer.Result, error) {
	f.mu.Lock()
	f.batches = append(f.batches, len(inputs))
	f.mu.Unlock()
	if f.running != nil {
		f.running <- struct{}{}
	}
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	if f.err != nil {
		return nil, f.err
	}
	out := make([]infer.Result, len(inputs))
	for i, in := range inputs {
		r := infer.Result{Model: "fake", Image: &infer.ImageInfo{Width: in.Image.Width, Height: in.Image.Height, Format: in.Image.Format}}
		for k := range min(topK, 10) {
			r.Predictions = append(r.Predictions, infer.Prediction{Rank: k + 1, ClassID: k, Label: string(rune('a' + k)), Probability: 1 / float64(k+2)})
		}
		out[i] = r
	}
	return out, nil
}

func (f *fakeEngine) Warmup(ctx context.Context) error {
	close(f.warmed)
	return nil
}

func (f *fakeEngine) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.batches...)
}

var _ Engine = (*fakeEngine)(nil)

// fixtures returns the shared fixtures directory.
func fixtures(t testing.TB) string { return testsupport.Fixtures(t) }

func readFixture(t testing.TB, rel string) []byte {
	t.Helper()
	return testsupport.ReadFixture(t, rel)
}

// jpegImage encodes a w x h gradient as JPEG.
func jpegImage(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	img, err := png.Decode(bytes.NewReader(pngImage(t, w, h)))
	if err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngImage encodes a w x h gradient as PNG.
func pngImage(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), uint8(x + y), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var errEngine = errors.New("engine exploded")

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func drain(resp *http.Response) {
	io.Copy(io.Discard, resp.Body) //nolint:errcheck // best effort before reuse
	resp.Body.Close()
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
