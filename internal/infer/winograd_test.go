package infer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

// convRef is the definition of a 3x3 stride-1 convolution on CNHW input in
// float64, with bias, residual and ReLU, and the sum of |w*x| of every
// output (the scale of its rounding error): convRefGeom with g's kernel
// set to 3x3, stride 1.
func convRef(in, w, bias, res []float32, g geom, n, cout int, relu bool) (out, scale []float64) {
	g.kh, g.kw, g.sh, g.sw = 3, 3, 1, 1
	return convRefGeom(in, w, bias, res, g, n, cout, relu)
}

// winoCase is one layer of TestWinograd and TestWinogradBlocked: input
// channels, output channels, size, padding, images, the phased path's
// chunk (0: newWinoConv's), residual and ReLU.
type winoCase struct {
	c, cout, h, w, pad, n, chunk int
	res, relu                    bool
}

// TestWinograd checks F(2x2, 3x3) against the float64 definition: odd and
// even sizes (partial tiles), paddings 0 to 2, batches, chunks smaller than
// the tiles, residual and ReLU, with guard bands around the output.
func TestWinograd(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tests := []winoCase{
		{1, 1, 3, 3, 0, 1, 0, false, false},
		{2, 1, 3, 4, 0, 1, 0, false, false},
		{3, 5, 7, 9, 1, 1, 0, false, true},
		{4, 3, 8, 8, 1, 2, 0, true, true},
		{13, 17, 5, 11, 2, 3, 0, true, false},
		{8, 12, 9, 7, 0, 2, 5, false, true},
		{16, 40, 14, 14, 1, 3, 32, true, true},
		{130, 33, 6, 6, 1, 1, 0, false, false},
		{3, 4, 9, 40, 1, 2, 0, false, true},
		{5, 6, 12, 37, 1, 2, 7, false, true},
		{2, 3, 7, 70, 1, 1, 23, false, false},
		{24, 20, 28, 28, 1, 1, 0, false, true}, // ResNet's sizes, whole tiles for both
		{20, 24, 14, 14, 1, 2, 0, false, true}, // F(4x4): a partial last tile column and row
		{36, 20, 7, 7, 1, 3, 0, false, true},
		{9, 7, 29, 75, 1, 1, 0, false, false}, // F(4x4): 18 tiles a row, two vector passes
	}
	defer func(v int) { winoBlockForce = v }(winoBlockForce)
	winoBlockForce = -1 // the phased path: chunk applies
	for _, tt := range tests {
		checkWinoLayer(t, rng, tt, "")
	}
}

// checkWinoLayer runs layer tt as F(2x2) and F(4x4), with the vector
// kernels (where the CPU has them) and the Go loops, and compares it with
// convRef within the layer limits, with guard bands around the output.
func checkWinoLayer(t *testing.T, rng *rand.Rand, tt winoCase, suffix string) {
	const guard = 29
	sentinel := float32(math.Float32frombits(0x7fc0_beef))
	defer func(v bool) { winoVec = v }(winoVec)
	for _, mv := range [][2]int{{2, 1}, {2, 0}, {4, 1}, {4, 0}} {
		m, vec := mv[0], mv[1] == 1
		name := fmt.Sprintf("F%d_c%d_k%d_%dx%d_pad%d_n%d_chunk%d_res%v_relu%v_vec%v%s", m, tt.c, tt.cout, tt.h, tt.w, tt.pad, tt.n, tt.chunk, tt.res, tt.relu, vec, suffix)
		t.Run(name, func(t *testing.T) {
			winoVec = vec
			g := geom{c: tt.c, h: tt.h, w: tt.w, kh: 3, kw: 3, sh: 1, sw: 1, pt: tt.pad, pl: tt.pad}
			g.oh, g.ow = tt.h+2*tt.pad-2, tt.w+2*tt.pad-2
			in := randData(rng, tt.c*tt.n*tt.h*tt.w)
			w := randData(rng, tt.cout*tt.c*9)
			bias := randData(rng, tt.cout)
			size := tt.cout * tt.n * g.oh * g.ow
			var res []float32
			if tt.res {
				res = randData(rng, size)
			}
			wc := newWinoConv(g, tt.n, tt.cout, newWinoWeights(w, tt.cout, tt.c, m))
			if tt.chunk > 0 {
				wc.chunk = tt.chunk
			}
			wc.bias, wc.res, wc.relu = bias, res, tt.relu
			vs, ms := wc.bufSizes()
			buf := make([]float32, size+2*guard)
			for i := range buf {
				buf[i] = sentinel
			}
			dst := buf[guard : guard+size]
			// Scratch starts as garbage; the split planes' slack past what
			// the tiles use (read by the kernels, masked off) as NaN, and
			// so do the blocks' V and M.
			poison := make([]float32, 1<<16)
			for i := range poison {
				poison[i] = float32(math.NaN())
			}
			winoScratches.Put(&winoScratch{plane: poison, v: slices.Clone(poison), m: slices.Clone(poison)})
			wc.run(dst, in, randData(rng, vs), randData(rng, ms))
			for i := range guard {
				if math.Float32bits(buf[i]) != math.Float32bits(sentinel) || math.Float32bits(buf[guard+size+i]) != math.Float32bits(sentinel) {
					t.Fatalf("guard band written at %d", i)
				}
			}
			want, scale := convRef(in, w, bias, res, g, tt.n, tt.cout, tt.relu)
			worst := 0.0
			for i := range want {
				e := math.Abs(float64(dst[i])-want[i]) / (scale[i] + 1e-30)
				if !(e <= worst) {
					worst = e
				}
			}
			// Error relative to sum |w*x|: winoLayerLimit, measured (see
			// tolerance_test.go).
			limit := winoLayerLimit
			if m == 4 {
				limit = wino4LayerLimit
			}
			if !(worst < limit) {
				t.Fatalf("worst error %.3g of sum|w*x|, want < %g", worst, limit)
			}
			t.Logf("worst error %.3g of sum|w*x|", worst)
		})
	}
}

// TestParityWinograd runs every fixture model with Winograd on every 3x3
// stride-1 convolution, whatever its channels, F(2x2) and then F(4x4) on
// all of them: the whole network must stay within the parity limit against
// torch.
func TestParityWinograd(t *testing.T) {
	if raceEnabled {
		t.Skip("Winograd forced on every fixture model, numerics, no concurrency: make test-full runs it without -race")
	}
	for _, m := range []int{2, 4} {
		t.Run(fmt.Sprintf("F%d", m), func(t *testing.T) { parityWinograd(t, m) })
	}
}

// parityWinograd is TestParityWinograd with every Winograd layer F(tile x tile).
func parityWinograd(t *testing.T, tile int) {
	defer func(m, f int) { winoMinChannels, winoForceTile = m, f }(winoMinChannels, winoForceTile)
	winoMinChannels, winoForceTile = 1, tile
	input := readF32(t, filepath.Join(fixtures, "models/input-b4.f32"))
	per := 3 * 224 * 224
	px := [][]float32{input[:per], input[per : 2*per], input[2*per : 3*per], input[3*per:]}
	models := [][2]string{
		{"mini-v1-opset11.onnx", "mini-v1.out-b4.f32"}, {"mini-v2-opset9.onnx", "mini-v2.out-b4.f32"},
		{"zoo-v1-opset12.onnx", "zoo-v1.out-b4.f32"}, {"zoo-v2-opset7.onnx", "zoo-v2.out-b4.f32"},
		{"mini-v2-view-opset11.onnx", "mini-v2-view.out-b4.f32"},
	}
	if !testing.Short() {
		models = append(models, [2]string{"resnet50-opset11.onnx", "resnet50.out-b4.f32"})
	}
	for _, m := range models {
		t.Run(m[0], func(t *testing.T) {
			c, err := LoadFile(filepath.Join(fixtures, "models", m[0]), Options{})
			if err != nil {
				t.Fatal(err)
			}
			wino := 0
			for _, l := range c.net.layers {
				if l.wino != nil {
					if l.wino.m != tile {
						t.Fatalf("layer %s runs as F(%dx%d), want F(%dx%d)", l.name, l.wino.m, l.wino.m, tile, tile)
					}
					wino++
				}
			}
			if wino == 0 {
				t.Fatal("no layer runs as Winograd")
			}
			got := logitsFlat(t, c, px)
			// parityLimit: Winograd needs no looser one (tolerance_test.go).
			if e := relL2(got, readF32(t, filepath.Join(fixtures, "models", m[1]))); !(e < parityLimit) {
				t.Errorf("%d Winograd layers: relative L2 error %.3g, want < %g", wino, e, parityLimit)
			} else {
				t.Logf("%d Winograd layers: relative L2 error %.3g", wino, e)
			}
		})
	}
}

// TestWinogradBlocked checks the blocked path (winograd_block.go) against
// the float64 definition: tile counts that are not multiples of the block,
// blocks that cross tile rows and images, one tile per block, 1 and 8
// images, residual and ReLU, on as many threads as the test has.
func TestWinogradBlocked(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	tests := []struct {
		winoCase
		blk int
	}{
		{winoCase{3, 5, 7, 9, 1, 1, 0, false, true}, 1},
		{winoCase{13, 17, 5, 11, 1, 8, 0, true, false}, 5},
		{winoCase{16, 40, 14, 14, 1, 8, 0, true, true}, 7},
		{winoCase{24, 20, 28, 28, 1, 1, 0, true, true}, 48},
		{winoCase{20, 24, 15, 13, 1, 8, 0, false, true}, 33},
		{winoCase{9, 7, 29, 75, 1, 1, 0, true, false}, 23},
		{winoCase{36, 20, 7, 7, 1, 8, 0, true, true}, 1000},
	}
	defer func(v int) { winoBlockForce = v }(winoBlockForce)
	for _, tt := range tests {
		winoBlockForce = tt.blk
		checkWinoLayer(t, rng, tt.winoCase, fmt.Sprintf("_blk%d", tt.blk))
	}
}

// TestWinoBlockTiles checks blockTiles' choice on ResNet-50's Winograd
// layers at batch 1 and 8 on every kernel: a block has 16 tiles or more,
// a blocked layer has at least winoMinUnits blocks and its weights within
// winoReuse, and the layers with few tiles (7x7 and 14x14 at batch 1) run
// phased.
func TestWinoBlockTiles(t *testing.T) {
	eachKernel(t, func(kern string) {
		for _, s := range [][3]int{{64, 56, 4}, {64, 56, 2}, {128, 28, 4}, {256, 14, 2}, {256, 14, 4}, {512, 7, 2}} {
			for _, n := range []int{1, 8} {
				c, h, m := s[0], s[1], s[2]
				g := geom{c: c, h: h, w: h, kh: 3, kw: 3, sh: 1, sw: 1, pt: 1, pl: 1, oh: h, ow: h}
				wc := newWinoConv(g, n, c, newWinoWeights(make([]float32, c*c*9), c, c, m))
				units := 0
				if wc.blk > 0 {
					units = (wc.tiles + wc.blk - 1) / wc.blk
				}
				t.Logf("%s c%d %dx%d F%d b%d: %d tiles, %d a block, %d blocks", kern, c, h, h, m, n, wc.tiles, wc.blk, units)
				switch {
				case wc.blk == 0:
				case wc.blk < 16 || units < winoMinUnits || c*c >= winoReuse*wc.blk*2*c:
					t.Errorf("%s c%d %dx%d F%d b%d: %d tiles a block, %d blocks", kern, c, h, h, m, n, wc.blk, units)
				}
				if n == 1 && h <= 14 && wc.blk != 0 {
					t.Errorf("%s c%d %dx%d F%d b1: blocked (%d tiles a block), want phased", kern, c, h, h, m, wc.blk)
				}
			}
		}
	})
}
