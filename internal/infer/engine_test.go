package infer

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func loadMini(t testing.TB, opts Options) *Classifier {
	t.Helper()
	c, err := LoadFile(filepath.Join(fixtures, "models/mini-v1-opset11.onnx"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConcurrentClassify runs batches of several sizes from many goroutines
// (run it with -race) and checks each result against a serial run.
func TestConcurrentClassify(t *testing.T) {
	c := loadMini(t, Options{})
	input := readF32(t, filepath.Join(fixtures, "models/input-b4.f32"))
	per := 3 * 224 * 224
	px := [][]float32{input[:per], input[per : 2*per], input[2*per : 3*per], input[3*per:]}
	want, err := c.Logits(context.Background(), px)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 1 + g%4
			got, err := c.Logits(context.Background(), px[:n])
			if err != nil {
				errs <- err.Error()
				return
			}
			for i := range got {
				// The same arithmetic in the same order at any batch size.
				if relL2(got[i], want[i]) > 1e-6 {
					errs <- "batch " + string(rune('0'+n)) + " differs from the serial run"
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestLabels(t *testing.T) {
	names := make([]string, 1000)
	for i := range names {
		names[i] = "class-" + strings.Repeat("x", i%3)
	}
	c := loadMini(t, Options{Labels: names})
	if c.Info().Labels != 1000 {
		t.Errorf("labels %d, want 1000", c.Info().Labels)
	}
	if _, err := LoadFile(filepath.Join(fixtures, "models/mini-v1-opset11.onnx"), Options{Labels: names[:10]}); err == nil || !strings.Contains(err.Error(), "10 labels for a model with 1000 classes") {
		t.Errorf("wrong label count: %v", err)
	}
	c = loadMini(t, Options{Labels: names[:10], OptionalLabels: true})
	if c.Labels() != nil {
		t.Error("optional labels of the wrong count were kept")
	}
	res, err := c.Run(context.Background(), []*Input{{Pixels: make([]float32, 3*224*224)}}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if p := res[0].Predictions; len(p) != 3 || p[0].Label != "" || p[0].Rank != 1 {
		t.Errorf("predictions without labels: %+v", p)
	}
}

func TestRunErrors(t *testing.T) {
	c := loadMini(t, Options{})
	in := []*Input{{Pixels: make([]float32, 3*224*224)}}
	for _, k := range []int{0, -1, 1001} {
		if _, err := c.Run(context.Background(), in, k); err == nil {
			t.Errorf("top-k %d accepted", k)
		}
	}
	if _, err := c.Run(context.Background(), []*Input{{Pixels: make([]float32, 10)}}, 5); err == nil {
		t.Error("short pixel tensor accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Run(ctx, in, 5); ErrorCode(err) != CodeCanceled {
		t.Errorf("cancelled run: %v (code %s)", err, ErrorCode(err))
	}
	res := c.Classify(context.Background(), [][]byte{nil, []byte("text")}, 5)
	got := []string{res[0].Error.Code, res[1].Error.Code}
	if !reflect.DeepEqual(got, []string{"empty", "not_an_image"}) {
		t.Errorf("codes %v", got)
	}
}

func TestWarmupCompilesBatchSizes(t *testing.T) {
	for _, lanes := range []int{1, 2, 3} {
		c := loadMini(t, Options{Lanes: lanes})
		if err := c.Warmup(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Each of the lanes runs sub-batches of up to ceil(8/lanes).
		largest := (WarmupBatches + lanes - 1) / lanes
		if len(c.lanes) != lanes || len(c.free) != lanes {
			t.Fatalf("lanes %d: %d lanes, %d free", lanes, len(c.lanes), len(c.free))
		}
		for i, l := range c.lanes {
			for n := 1; n <= largest; n++ {
				// A batch that runs image-parallel runs pieces on the
				// lane and its crew.
				execs, sizes := []*lane{l}, []int{n}
				if w := c.pieceWorkers(n); w > 1 {
					if len(l.crew) < w-1 {
						t.Fatalf("lanes %d: lane %d: crew of %d for batch %d, want %d", lanes, i, len(l.crew), n, w-1)
					}
					execs, sizes = append(execs, l.crew[:w-1]...), pieceBatches(n, w)
				}
				for j, e := range execs {
					for _, size := range sizes {
						p, ok := e.plans[size]
						if !ok {
							t.Fatalf("lanes %d: lane %d, executor %d: batch %d not compiled", lanes, i, j, size)
						}
						if len(e.arena) < p.arena {
							t.Errorf("lanes %d: lane %d, executor %d: arena %d floats, batch %d needs %d", lanes, i, j, len(e.arena), size, p.arena)
						}
					}
				}
			}
		}
	}
}
