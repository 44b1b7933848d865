package gemm

// packB copies B[pc:pc+kc, jc:jc+nc] into dst as nr-wide micro-panels, each
// kc x nr row-major; a last, partial micro-panel is tnr wide (tnr <= nr),
// zero-padded past nc. It walks B row by row (sequential reads).
func packB(dst, b []float32, ldb, pc, kc, jc, nc, nr, tnr int, cp func(dst, src []float32, panels, stride int)) {
	for p := range kc {
		packRow(dst, b[(pc+p)*ldb+jc:(pc+p)*ldb+jc+nc], p, kc, nr, tnr, cp)
	}
}

// packRow copies src, row p of a kc x len(src) block of B, into its place in
// the block's micro-panels (see packB). cp, if not nil, copies the row's
// whole panels (an assembly helper), else whole panel rows move as
// fixed-size arrays, which the compiler inlines.
func packRow(dst, src []float32, p, kc, nr, tnr int, cp func(dst, src []float32, panels, stride int)) {
	nc := len(src)
	full := nc / nr * nr
	switch {
	case cp != nil:
		if full > 0 {
			cp(dst[p*nr:], src, full/nr, kc*nr)
		}
	case nr == 48:
		for jr := 0; jr < full; jr += 48 {
			*(*[48]float32)(dst[jr*kc+p*48:]) = *(*[48]float32)(src[jr:])
		}
	case nr == 32:
		for jr := 0; jr < full; jr += 32 {
			*(*[32]float32)(dst[jr*kc+p*32:]) = *(*[32]float32)(src[jr:])
		}
	case nr == 16:
		for jr := 0; jr < full; jr += 16 {
			*(*[16]float32)(dst[jr*kc+p*16:]) = *(*[16]float32)(src[jr:])
		}
	case nr == 4:
		for jr := 0; jr < full; jr += 4 {
			*(*[4]float32)(dst[jr*kc+p*4:]) = *(*[4]float32)(src[jr:])
		}
	default:
		for jr := 0; jr < full; jr += nr {
			copy(dst[jr*kc+p*nr:jr*kc+p*nr+nr], src[jr:jr+nr])
		}
	}
	if full < nc {
		// Element loops: cheaper than memmove and memclr calls for
		// fewer than nr floats.
		d := dst[full*kc+p*tnr : full*kc+p*tnr+tnr]
		t := src[full:]
		for i := range d {
			if i < len(t) {
				d[i] = t[i]
			} else {
				d[i] = 0
			}
		}
	}
}
