package infer

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/mlserve/mlserve/internal/gemm"
)

// mbCase is one inverted-residual block: cin channels of h x w expanded to
// c by a 1x1 convolution with activation ea, then a k x k depthwise
// convolution of stride s with activation da; pool makes the block's
// output a GlobalAveragePool of the depthwise output (squeeze-and-excite).
type mbCase struct {
	n, cin, c, h, w, k, s int
	ea, da                activation
	pool                  bool
}

var (
	relu6 = activation{kind: actClip, lo: 0, hi: 6}
	silu  = activation{kind: actSiLU}
)

// mbNet builds the block as its two layers (and the pool), unfused.
func mbNet(tt mbCase, r *rand.Rand) *network {
	e := &layer{kind: kConv, typ: "Conv", name: "expand", in: []string{"x"}, out: "e", cin: tt.cin, cout: tt.c, kh: 1, kw: 1, sh: 1, sw: 1,
		w: randSlice(r, tt.c*tt.cin), bias: randSlice(r, tt.c), act: tt.ea}
	p := tt.k / 2
	d := &layer{kind: kGConv, typ: "Conv", name: "dw", in: []string{"e"}, out: "d", cin: 1, cout: tt.c, group: tt.c, kh: tt.k, kw: tt.k, sh: tt.s, sw: tt.s,
		pads: [4]int{p, p, p, p}, w: randSlice(r, tt.c*tt.k*tt.k), bias: randSlice(r, tt.c), act: tt.da}
	net := &network{layers: []*layer{e, d}, consts: map[string]*constant{}, input: "x", inputShape: []int{tt.cin, tt.h, tt.w}, output: "d"}
	if tt.pool {
		net.layers = append(net.layers, &layer{kind: kGAP, typ: "GlobalAveragePool", name: "gap", in: []string{"d"}, out: "g"})
		net.output = "g"
	}
	return net
}

// actRef is the plain-Go definition of the test's activations.
func actRef(a activation, v float64) float64 {
	switch a.kind {
	case actClip:
		return min(max(v, float64(a.lo)), float64(a.hi))
	case actSiLU:
		return v / (1 + math.Exp(-v))
	}
	return v
}

// mbRef computes the block on NCHW x from the network's (unpacked) weights.
func mbRef(tt mbCase, net *network, x []float32) []float32 {
	e, d := net.layers[0], net.layers[1]
	hw := tt.h * tt.w
	ex := make([]float64, tt.n*tt.c*hw)
	for b := range tt.n {
		for o := range tt.c {
			for i := range hw {
				s := float64(e.bias[o])
				for ci := range tt.cin {
					s += float64(e.w[o*tt.cin+ci]) * float64(x[(b*tt.cin+ci)*hw+i])
				}
				ex[(b*tt.c+o)*hw+i] = actRef(tt.ea, s)
			}
		}
	}
	p := tt.k / 2
	oh, ow := (tt.h+2*p-tt.k)/tt.s+1, (tt.w+2*p-tt.k)/tt.s+1
	out := make([]float32, tt.n*tt.c*oh*ow)
	for b := range tt.n {
		for o := range tt.c {
			for y := range oh {
				for xo := range ow {
					s := float64(d.bias[o])
					for ky := range tt.k {
						for kx := range tt.k {
							iy, ix := y*tt.s-p+ky, xo*tt.s-p+kx
							if iy >= 0 && iy < tt.h && ix >= 0 && ix < tt.w {
								s += ex[((b*tt.c+o)*tt.h+iy)*tt.w+ix] * float64(d.w[(o*tt.k+ky)*tt.k+kx])
							}
						}
					}
					out[((b*tt.c+o)*oh+y)*ow+xo] = float32(actRef(tt.da, s))
				}
			}
		}
	}
	if !tt.pool {
		return out
	}
	g := make([]float32, tt.n*tt.c)
	for i := range g {
		var s float64
		for _, v := range out[i*oh*ow : (i+1)*oh*ow] {
			s += float64(v)
		}
		g[i] = float32(s / float64(oh*ow))
	}
	return g
}

// runNet fuses, packs and plans net at batch n and runs it on the NCHW
// input x, returning the output in NCHW order.
func runNet(t testing.TB, net *network, n int, x []float32) (*plan, []float32) {
	t.Helper()
	p, err := newPlan(net, n, false)
	if err != nil {
		t.Fatal(err)
	}
	p.bind(make([]float32, p.arena))
	copy(p.input.buf.data, stored(x, p.input.shape))
	if err := p.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := p.output.shape
	out := make([]float32, prod(s))
	if len(s) != 4 {
		return p, append(out[:0], p.output.buf.data[:len(out)]...)
	}
	c, hw := s[1], s[2]*s[3]
	for b := range n {
		for ci := range c {
			copy(out[(b*c+ci)*hw:(b*c+ci+1)*hw], p.output.buf.data[(ci*n+b)*hw:])
		}
	}
	return p, out
}

// TestMBFused checks the fused expand + depthwise layer against the
// plain-Go definition: odd channel counts, stride 1 and 2, 3x3 and 5x5,
// bands that do not divide the channels, batch 1, 2 and 3, the pool, a
// batch run image by image and the unfused fallback (bands too large for
// the cache).
func TestMBFused(t *testing.T) {
	defer func(a, b int) { mbBandsPerThread, mbMaxBandFloats = a, b }(mbBandsPerThread, mbMaxBandFloats)
	cases := []mbCase{
		{1, 5, 37, 9, 11, 3, 1, relu6, relu6, false},
		{1, 7, 37, 10, 9, 3, 2, relu6, relu6, false},
		{3, 6, 29, 8, 8, 5, 1, silu, silu, false},
		{1, 9, 45, 11, 10, 5, 2, silu, silu, true},
		{2, 16, 100, 7, 7, 3, 1, relu6, relu6, true},
		{1, 80, 41, 14, 14, 3, 2, silu, silu, false}, // k > gemm's in-place limit: B packed per band
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for ci, tt := range cases {
		for _, pb := range [][2]int{{1, 4}, {2, 1}, {2, 3}, {3, 4}, {2, 32}} { // threads, bands per thread
			for _, mode := range []string{"batch", "image", "whole"} {
				if mode == "image" && tt.n == 1 {
					continue
				}
				procs, perThread := pb[0], pb[1]
				runtime.GOMAXPROCS(procs)
				name := fmt.Sprintf("case%d/procs%d/bands%d/%s", ci, procs, perThread, mode)
				eachKernel(t, func(kern string) {
					r := rand.New(rand.NewSource(int64(ci)))
					net := mbNet(tt, r)
					x := randSlice(r, tt.n*tt.cin*tt.h*tt.w)
					want := mbRef(tt, net, x)
					fuse(net)
					if len(net.layers) != 2+btoi(tt.pool)-1 || net.layers[0].expand == nil {
						t.Fatalf("%s: the block was not fused: %d layers", name, len(net.layers))
					}
					packWeights(net)
					l, hw := net.layers[0], tt.h*tt.w
					mr := l.expand.packed.PanelRows()
					mbBandsPerThread, mbMaxBandFloats = perThread, map[string]int{"batch": 1 << 18, "image": mr * hw, "whole": 0}[mode]
					p, got := runNet(t, net, tt.n, x)
					closeTo(t, name+"/"+kern, got, want, 2e-5)
					batch, image := l.mbBandsFor(tt.n*hw), l.mbBandsFor(hw)
					ran := "whole"
					if batch != nil {
						ran = "batch"
					} else if image != nil {
						ran = "image"
					}
					if ran != mode || p.ops[0].l.expand == nil {
						t.Fatalf("%s: ran as %s", name, ran)
					}
					bd := batch
					if bd == nil {
						bd = image
					}
					if bd != nil && procs > 1 && tt.c > bd.rows && len(bd.a) < 2 {
						t.Fatalf("%s: %d bands of %d rows", name, len(bd.a), bd.rows)
					}
				})
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestMBNotFused checks that an expansion another layer reads too stays a
// layer of its own.
func TestMBNotFused(t *testing.T) {
	net := mbNet(mbCase{1, 4, 8, 5, 5, 3, 1, relu6, relu6, false}, rand.New(rand.NewSource(1)))
	net.layers = append(net.layers, &layer{kind: kAdd, typ: "Add", name: "add", in: []string{"e", "d"}, out: "y"})
	net.output = "y"
	fuse(net)
	for _, l := range net.layers {
		if l.expand != nil {
			t.Fatalf("layer %s fused an expansion that %d layers read", l.name, 2)
		}
	}
}

// BenchmarkMBBlock times the fused block against the same layer run
// unfused (the expansion whole, then the depthwise convolution) on the
// blocks of MobileNetV2 and EfficientNet-B0 at batch 1.
func BenchmarkMBBlock(b *testing.B) {
	defer func(v, w, x int) { mbMaxBandFloats, mbBandsPerThread, mbBandFloats = v, w, x }(mbMaxBandFloats, mbBandsPerThread, mbBandFloats)
	if v, err := strconv.Atoi(os.Getenv("MB_BANDS_PER_THREAD")); err == nil {
		mbBandsPerThread = v
	}
	if v, err := strconv.Atoi(os.Getenv("MB_BANDFLOATS")); err == nil {
		mbBandFloats = v
	}
	max0 := mbMaxBandFloats
	for _, tt := range []mbCase{
		{1, 16, 96, 112, 112, 3, 2, relu6, relu6, false},
		{1, 24, 144, 56, 56, 3, 1, relu6, relu6, false},
		{1, 32, 192, 28, 28, 3, 1, relu6, relu6, false},
		{1, 64, 384, 14, 14, 3, 1, relu6, relu6, false},
		{1, 160, 960, 7, 7, 3, 1, relu6, relu6, false},
		{1, 40, 240, 28, 28, 5, 2, silu, silu, true},
		{1, 112, 672, 14, 14, 5, 1, silu, silu, true},
		{1, 192, 1152, 7, 7, 5, 1, silu, silu, true},
	} {
		for _, fused := range []bool{false, true} {
			mbMaxBandFloats = max0
			if !fused {
				mbMaxBandFloats = 0
			}
			r := rand.New(rand.NewSource(1))
			net := mbNet(tt, r)
			x := randSlice(r, tt.n*tt.cin*tt.h*tt.w)
			fuse(net)
			packWeights(net)
			p, _ := runNet(b, net, tt.n, x)
			b.Run(fmt.Sprintf("%dto%dx%dx%d-k%d-s%d/fused=%v", tt.cin, tt.c, tt.h, tt.w, tt.k, tt.s, fused), func(b *testing.B) {
				for b.Loop() {
					done := gemm.Share() // as one inference: the pool stays awake (lanes.go)
					err := p.run(context.Background())
					done()
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestMBFusedInFamilies counts the fused blocks of the family files (every
// depthwise convolution whose input is a 1x1 convolution read by nothing
// else) and checks that ResNet-50 has none (TestFamiliesParity and
// TestParity check the results).
func TestMBFusedInFamilies(t *testing.T) {
	if raceEnabled {
		t.Skip("counts of fused blocks at load, no concurrency: make test-full runs it without -race")
	}
	for file, want := range map[string]int{
		"families/mobilenetv2-opset13.onnx":           16,
		"families/efficientnet-opset13.onnx":          9, // half depth: 10 blocks, the first without an expansion
		"families/mobilenetv3-opset13.onnx":           2, // the others' expansions end in a HardSwish decomposed into two readers
		"families/mobilenetv3-opset17.onnx":           10,
		"families/shufflenet-opset13.onnx":            16, // 1x1, then depthwise, in each branch
		"families/regnet-opset13.onnx":                0,  // grouped, not depthwise
		"families/bench/mobilenetv2-1.0-opset13.onnx": 16,
		"families/bench/efficientnet-b0-opset13.onnx": 15,
		"models/resnet50-opset11.onnx":                0,
	} {
		c, err := LoadFile(filepath.Join(fixtures, file), Options{})
		if err != nil {
			t.Fatal(err)
		}
		fused := 0
		for _, l := range c.net.layers {
			if l.expand != nil {
				fused++
			}
		}
		if fused != want {
			t.Errorf("%s: %d fused blocks, want %d", file, fused, want)
		}
	}
}

// TestMBFusedLanes runs the fused families with two and three lanes and
// three callers at once with batches of 4, 3 and 2 images (the lanes share
// the band buffers' free list), each against the torch logits.
func TestMBFusedLanes(t *testing.T) {
	input := readF32(t, filepath.Join(fixtures, "models/input-b4.f32"))
	per := 3 * 224 * 224
	px := [][]float32{input[:per], input[per : 2*per], input[2*per : 3*per], input[3*per:]}
	for _, m := range [][2]string{{"mobilenetv2-opset13.onnx", "mobilenetv2.out-b4.f32"}, {"efficientnet-opset13.onnx", "efficientnet.out-b4.f32"}} {
		want := readF32(t, filepath.Join(fixtures, "families", m[1]))
		for _, lanes := range []int{2, 3} {
			c, err := LoadFile(filepath.Join(fixtures, "families", m[0]), Options{Lanes: lanes})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for r := range 3 {
				wg.Go(func() {
					rows, err := c.Logits(context.Background(), px[r:])
					if err != nil {
						t.Error(err)
						return
					}
					if e := relL2(slices.Concat(rows...), want[r*len(want)/4:]); !(e < familyLimit) {
						t.Errorf("%s, %d lanes, caller %d: relative L2 error %.3g, want < %g", m[0], lanes, r, e, familyLimit)
					}
				})
			}
			wg.Wait()
		}
	}
}
