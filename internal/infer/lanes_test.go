package infer

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestParityLanes runs fixture models with several lanes, batches cut into
// sub-batches that run at once, serially and from concurrent callers: the
// logits must stay within 1e-5 of torch, in input order.
func TestParityLanes(t *testing.T) {
	input := readF32(t, filepath.Join(fixtures, "models/input-b4.f32"))
	per := 3 * 224 * 224
	px := [][]float32{input[:per], input[per : 2*per], input[2*per : 3*per], input[3*per:]}
	models := [][2]string{{"mini-v1-opset11.onnx", "mini-v1.out-b4.f32"}, {"zoo-v2-opset7.onnx", "zoo-v2.out-b4.f32"}, {"mini-v2-view-opset11.onnx", "mini-v2-view.out-b4.f32"}}
	if !testing.Short() {
		models = append(models, [2]string{"resnet50-opset11.onnx", "resnet50.out-b4.f32"})
	}
	for _, m := range models {
		want := readF32(t, filepath.Join(fixtures, "models", m[1]))
		for _, lanes := range []int{2, 3, 8} {
			c, err := LoadFile(filepath.Join(fixtures, "models", m[0]), Options{Lanes: lanes})
			if err != nil {
				t.Fatal(err)
			}
			if e := relL2(logitsFlat(t, c, px), want); !(e < 1e-5) {
				t.Errorf("%s, %d lanes: relative L2 error %.3g, want < 1e-5", m[0], lanes, e)
			}
			// Three callers at once, each with the batch in another order
			// (rotated): each gets its own rows back, in its order.
			var wg sync.WaitGroup
			for r := range 3 {
				wg.Go(func() {
					rot := append(append([][]float32(nil), px[r:]...), px[:r]...)
					rows, err := c.Logits(context.Background(), rot)
					if err != nil {
						t.Error(err)
						return
					}
					var got []float32
					for i := range rows {
						got = append(got, rows[(i-r+len(rows))%len(rows)]...)
					}
					if e := relL2(got, want); !(e < 1e-5) {
						t.Errorf("%s, %d lanes, caller %d: relative L2 error %.3g, want < 1e-5", m[0], lanes, r, e)
					}
				})
			}
			wg.Wait()
		}
	}
}

// TestLanesCanceled: a run waiting for a lane fails when its context ends,
// and the lanes stay usable.
func TestLanesCanceled(t *testing.T) {
	c := loadMini(t, Options{Lanes: 2})
	px := make([]float32, 3*224*224)
	held := []*lane{<-c.free, <-c.free}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Logits(ctx, [][]float32{px, px}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("run with every lane busy past its deadline: %v, want %v", err, context.DeadlineExceeded)
	}
	for _, l := range held {
		c.release(l)
	}
	if _, err := c.Logits(context.Background(), [][]float32{px, px, px}); err != nil {
		t.Fatal(err)
	}
	if len(c.free) != 2 {
		t.Fatalf("%d lanes free after the runs, want 2", len(c.free))
	}
}
