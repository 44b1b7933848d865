package infer

// groupConv is a grouped (or depthwise) convolution computed directly:
// few input channels per output channel make it memory-bound, not a GEMM.
// src is CNHW [cin, n, h, w] with cin = cpg*group, w is [cout, cpg, kh, kw]
// and dst [cout, n, oh, ow]; bias and the activation a are applied last.
func groupConv(dst, src, w, bias []float32, n int, g geom, cpg, cout, group int, a activation) {
	hw, ohw, ksz := g.h*g.w, g.oh*g.ow, g.kh*g.kw
	opg := cout / group
	// The output columns tap kx meets inside the input: [ox0, ox1).
	ox0, ox1 := make([]int, g.kw), make([]int, g.kw)
	for kx := range g.kw {
		lo := 0
		for lo < g.ow && lo*g.sw-g.pl+kx < 0 {
			lo++
		}
		hi := lo
		for hi < g.ow && hi*g.sw-g.pl+kx < g.w {
			hi++
		}
		ox0[kx], ox1[kx] = lo, hi
	}
	zero := make([]float32, g.w) // the rows of the padding
	parallelFor(cout*n, 1, func(plo, phi int) {
		rows := make([][]float32, g.kh)
		for p := plo; p < phi; p++ {
			o, b := p/n, p%n
			gi := o / opg
			out := dst[p*ohw : (p+1)*ohw]
			for i := range out {
				out[i] = bias[o]
			}
			for ci := range cpg {
				ic := gi*cpg + ci
				in := src[(ic*n+b)*hw : (ic*n+b+1)*hw]
				wk := w[(o*cpg+ci)*ksz : (o*cpg+ci+1)*ksz]
				if g.kh == 3 && g.kw == 3 {
					convPlaneTaps(out, in, wk, g, zero, rows)
					continue
				}
				convPlane(out, in, wk, g, ox0, ox1)
			}
			if a.kind != actNone {
				activate(out, out, a)
			}
		}
	})
}

// convPlane adds one input plane convolved with one kernel to out.
func convPlane(out, in, wk []float32, g geom, ox0, ox1 []int) {
	for oy := range g.oh {
		orow := out[oy*g.ow : (oy+1)*g.ow]
		for ky := range g.kh {
			iy := oy*g.sh - g.pt + ky
			if iy < 0 || iy >= g.h {
				continue
			}
			row := in[iy*g.w : (iy+1)*g.w]
			for kx := range g.kw {
				wv := wk[ky*g.kw+kx]
				lo, hi := ox0[kx], ox1[kx]
				if lo >= hi {
					continue
				}
				if g.sw == 1 {
					seg := row[lo-g.pl+kx : hi-g.pl+kx]
					dst := orow[lo:hi]
					for i, v := range seg {
						dst[i] += wv * v
					}
					continue
				}
				for ox := lo; ox < hi; ox++ {
					orow[ox] += wv * row[ox*g.sw-g.pl+kx]
				}
			}
		}
	}
}

// convPlaneTaps is convPlane for 3x3 kernels (MobileNet, EfficientNet):
// each output pixel of a row's interior sums its nine taps in registers, one
// store per pixel instead of one per tap (BenchmarkDepthwisePlane: about 2x
// at stride 1); rows in the padding read zero, and the few pixels whose taps
// leave the row take a checked loop. Unrolling only pays for 3x3: a loop
// over 5x5 taps is slower than convPlane's passes.
func convPlaneTaps(out, in, wk []float32, g geom, zero []float32, rows [][]float32) {
	// Interior columns: ox*sw - pl >= 0 and ox*sw - pl + 3 <= w.
	lo := ceilDiv(g.pl, g.sw)
	hi := 0
	if g.w+g.pl-3 >= 0 {
		hi = min((g.w+g.pl-3)/g.sw+1, g.ow)
	}
	hi = max(hi, lo)
	for oy := range g.oh {
		for ky := range g.kh {
			iy := oy*g.sh - g.pt + ky
			if iy < 0 || iy >= g.h {
				rows[ky] = zero
			} else {
				rows[ky] = in[iy*g.w : (iy+1)*g.w]
			}
		}
		orow := out[oy*g.ow : (oy+1)*g.ow]
		w0, w1, w2, w3, w4, w5, w6, w7, w8 := wk[0], wk[1], wk[2], wk[3], wk[4], wk[5], wk[6], wk[7], wk[8]
		r0, r1, r2 := rows[0], rows[1], rows[2]
		for ox := lo; ox < hi; ox++ {
			x := ox*g.sw - g.pl
			a, b, c := r0[x:x+3:x+3], r1[x:x+3:x+3], r2[x:x+3:x+3]
			orow[ox] += w0*a[0] + w1*a[1] + w2*a[2] + w3*b[0] + w4*b[1] + w5*b[2] + w6*c[0] + w7*c[1] + w8*c[2]
		}
		for ox := range g.ow {
			if ox >= lo && ox < hi {
				continue
			}
			var s float32
			for ky, r := range rows {
				for kx := range g.kw {
					if x := ox*g.sw - g.pl + kx; x >= 0 && x < g.w {
						s += wk[ky*g.kw+kx] * r[x]
					}
				}
			}
			orow[ox] += s
		}
	}
}
