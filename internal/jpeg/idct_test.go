package jpeg

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refIDCT is the 8x8 inverse DCT straight from T.81 A.3.3 in float64,
// averaged over 8/n x 8/n groups: what an n x n reduced transform should
// produce before rounding.
func refIDCT(coef *[64]int32, n int) []float64 {
	var full [8][8]float64
	for y := range 8 {
		for x := range 8 {
			s := 0.0
			for v := range 8 {
				for u := range 8 {
					cu, cv := 1.0, 1.0
					if u == 0 {
						cu = 1 / math.Sqrt2
					}
					if v == 0 {
						cv = 1 / math.Sqrt2
					}
					s += cu * cv * float64(coef[v*8+u]) *
						math.Cos(float64(2*x+1)*float64(u)*math.Pi/16) *
						math.Cos(float64(2*y+1)*float64(v)*math.Pi/16)
				}
			}
			full[y][x] = s / 4
		}
	}
	g := 8 / n
	out := make([]float64, n*n)
	for y := range n {
		for x := range n {
			s := 0.0
			for j := range g {
				for i := range g {
					s += full[y*g+j][x*g+i]
				}
			}
			out[y*n+x] = s/float64(g*g) + 128
		}
	}
	return out
}

func TestIDCTMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var ones [64]int32
	for i := range ones {
		ones[i] = 1
	}
	for trial := range 300 {
		var coef [64]int32
		// Photo-like blocks: large low frequencies, sparse small high ones;
		// every tenth block dense and extreme.
		for i := range coef {
			u, v := i%8, i/8
			switch {
			case trial%10 == 0:
				coef[i] = int32(rng.IntN(2048) - 1024)
			case i == 0:
				coef[i] = int32(rng.IntN(2000) - 1000)
			case rng.IntN(u+v+1) == 0:
				coef[i] = int32(rng.IntN(200/(u+v+1)+1) - 100/(u+v+1))
			}
		}
		for _, n := range []int{1, 2, 4, 8} {
			var blk [256]int32
			copy(blk[:64], coef[:])
			out := make([]byte, n*n)
			idct(&blk, &ones, n, out, n)
			want := refIDCT(&coef, n) // recomputes the full transform: fine for a test
			for i, w := range want {
				if math.Abs(w-128) > 500 {
					// libjpeg's range limit wraps beyond +-512: only the
					// extreme blocks get there.
					continue
				}
				w = math.Min(math.Max(math.Round(w), 0), 255)
				// 13-bit cosines and two roundings: at most one level off
				// (measured: 1).
				if d := math.Abs(float64(out[i]) - w); d > 1 {
					t.Fatalf("trial %d, n %d, sample %d: %d, want %.0f", trial, n, i, out[i], w)
				}
			}
			for _, f := range freqs[n] {
				for _, g := range freqs[n] {
					if blk[f*8+g] != 0 {
						t.Fatalf("n %d: coefficient (%d,%d) not cleared", n, f, g)
					}
				}
			}
		}
	}
}

func TestIDCTFrequencies(t *testing.T) {
	// Averaged over pairs, frequency 4 vanishes; over quads, every even
	// frequency but DC; over the block, everything but DC.
	want := map[int][]int{1: {0}, 2: {0, 1, 3, 5, 7}, 4: {0, 1, 2, 3, 5, 6, 7}, 8: {0, 1, 2, 3, 4, 5, 6, 7}}
	for n, fr := range want {
		got := freqs[n]
		if len(got) != len(fr) {
			t.Fatalf("n %d: %v, want %v", n, got, fr)
		}
		for i := range fr {
			if got[i] != fr[i] {
				t.Fatalf("n %d: %v, want %v", n, got, fr)
			}
		}
	}
}

func TestIDCTConstants(t *testing.T) {
	c := func(k int) float64 { return math.Cos(float64(k) * math.Pi / 16) }
	r2 := math.Sqrt2
	tests := []struct {
		got  int
		want float64
	}{
		{fix0298631336, r2 * (-c(1) + c(3) + c(5) - c(7))},
		{fix0390180644, r2 * (c(3) - c(5))},
		{fix0541196100, r2 * c(6)},
		{fix0765366865, r2 * (c(2) - c(6))},
		{fix0899976223, r2 * (c(3) - c(7))},
		{fix1175875602, r2 * c(3)},
		{fix1501321110, r2 * (c(1) + c(3) - c(5) - c(7))},
		{fix1847759065, r2 * (c(2) + c(6))},
		{fix1961570560, r2 * (c(3) + c(5))},
		{fix2053119869, r2 * (c(1) + c(3) - c(5) + c(7))},
		{fix2562915447, r2 * (c(1) + c(3))},
		{fix3072711026, r2 * (c(1) + c(3) + c(5) - c(7))},
		{fix0211164243, r2 * (c(1) - c(3))},
		{fix0509795579, r2 * (c(5) - c(7))},
		{fix0601344887, r2 * (c(1) - c(5))},
		{fix0720959822, r2 * (c(1) - c(3) + c(5) - c(7))},
		{fix0850430095, r2 * (-c(1) + c(3) + c(5) + c(7))},
		{fix1061594337, r2 * (c(5) + c(7))},
		{fix1272758580, r2 * (c(1) - c(3) + c(5) + c(7))},
		{fix1451774981, r2 * (c(3) + c(7))},
		{fix2172734803, r2 * (c(1) + c(5))},
		{fix3624509785, r2 * (c(1) + c(3) + c(5) + c(7))},
	}
	for i, tt := range tests {
		if want := int(math.Round(tt.want * (1 << constBits))); tt.got != want {
			t.Errorf("constant %d: %d, want %d (%.9f)", i, tt.got, want, tt.want)
		}
	}
}

// TestIDCT2LowMatchesFull checks the 2x2 transform's shortcut for blocks
// with frequencies 0 and 1 alone against the whole transform (which
// TestReducedMatchesDjpeg holds to libjpeg-turbo's jpeg_idct_2x2), over
// random and extreme coefficients, and that both clear what they read.
func TestIDCT2LowMatchesFull(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var q [64]int32
	for i := range q {
		q[i] = 1 + rng.Int32N(255)
	}
	for i := range 20000 {
		var blk [256]int32
		for _, z := range []int{0, 1, 8, 9} {
			switch {
			case i%7 == 0:
				blk[z] = int32([]int{-32768, 32767, 0}[rng.IntN(3)])
			case rng.IntN(3) > 0:
				blk[z] = rng.Int32N(2048) - 1024
			}
		}
		low, full := blk, blk
		var got, want [2 * 5]byte
		idct2(&low, &q, got[:], 5)
		idct2Full(&full, &q, want[:], 5)
		if got != want {
			t.Fatalf("coefficients %v %v %v %v: %v, want %v", blk[0], blk[1], blk[8], blk[9], got, want)
		}
		if low != [256]int32{} || full != [256]int32{} {
			t.Fatal("coefficients left in the block")
		}
	}
}
