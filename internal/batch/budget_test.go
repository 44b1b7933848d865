package batch

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/admit"
	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/s3io"
)

// decodingClassifier decodes for real (imageprep, to an 8x8 crop).
type decodingClassifier struct{ fakeClassifier }

func (d *decodingClassifier) Prepare(data []byte) (*infer.Input, error) {
	in := &infer.Input{Pixels: make([]float32, 3*8*8)}
	info, err := imageprep.Prepare(data, imageprep.Config{ResizeShorter: 8, Crop: 8}, in.Pixels)
	in.Image = info
	return in, err
}

func solidPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDecodeBudgetBatch: 8 preparers over 12 PNGs of 1500x1500 (9 MB of
// pixels each) with a 20 MB decode budget decode at most two at once, and
// all succeed; a 3000x3000 PNG (36 MB) can never fit and gets a too_large
// record on the first try.
func TestDecodeBudgetBatch(t *testing.T) {
	in, out := newMem(t)
	s, err := s3io.Open(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	small, huge := solidPNG(t, 1500, 1500), solidPNG(t, 3000, 3000)
	put := func(k string, b []byte) {
		if err := s.Put(context.Background(), k, bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"} {
		put("big/"+k+".png", small)
	}
	put("big/huge.png", huge)
	cfg := testConfig(t, in+"big/", out)
	cfg.Preparers = 8
	cfg.ReadBudget = 1 << 30
	budget := admit.New(20 << 20)
	cfg.DecodeBudget = budget
	c := &decodingClassifier{}
	if _, err := Run(context.Background(), c, cfg); err != nil {
		t.Fatal(err)
	}
	cost, _ := imageprep.DecodeCost(small, imageprep.Config{})
	t.Logf("peak admitted %d MB of %d MB, one image %d MB", budget.Peak()>>20, budget.Size()>>20, cost>>20)
	if budget.Peak() > budget.Size() || budget.Peak() < cost {
		t.Errorf("peak admitted %d, want between one image (%d) and the budget (%d)", budget.Peak(), cost, budget.Size())
	}
	if budget.InUse() != 0 {
		t.Errorf("%d bytes admitted after the run", budget.InUse())
	}
	outStore, _ := s3io.Open(context.Background(), out)
	var fails []Failure
	for _, line := range readLines(t, outStore, JobPrefix(testJob)+"failures-0.jsonl") {
		fails = append(fails, mustFailure(t, line))
	}
	if len(fails) != 1 || fails[0].Key != "huge.png" || fails[0].Code != imageprep.CodeTooLarge || fails[0].Attempt != 1 ||
		!strings.Contains(fails[0].Message, "decode budget") {
		t.Errorf("failures %+v, want one too_large for huge.png naming the decode budget", fails)
	}
	if n := len(readLines(t, outStore, JobPrefix(testJob)+"results-0.jsonl")); n != 12 {
		t.Errorf("%d results, want 12", n)
	}
}

func mustFailure(t *testing.T, line []byte) Failure {
	t.Helper()
	var f Failure
	if err := json.Unmarshal(line, &f); err != nil {
		t.Fatal(err)
	}
	return f
}
