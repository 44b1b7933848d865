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
	parallelFor(cout*n, 1, func(plo, phi int) {
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
