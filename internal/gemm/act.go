package gemm

import "math"

// ActKind is an activation the epilogue applies after the bias, the
// residual and ReLU.
type ActKind uint8

const (
	ActNone      ActKind = iota
	ActClamp             // min(max(x, Lo), Hi): ReLU6, Clip, HardTanh
	ActSigmoid           // 1 / (1 + e^-x)
	ActSiLU              // x * sigmoid(x)
	ActHardSwish         // x * min(max(x/6 + 1/2, 0), 1)
)

// Act is an ActKind with its bounds (ActClamp).
type Act struct {
	Kind   ActKind
	Lo, Hi float32
}

// actFunc applies an activation in place to cols floats of each of rows
// rows of c, ldc floats apart (c holds them all).
type actFunc func(c *float32, ldc, rows, cols int, lo, hi float32)

// Activate applies a to every float of x in place, with the vector
// activation of the kernel in use (see Use), the one its epilogue applies.
func Activate(x []float32, a Act) {
	if len(x) > 0 {
		actTile(active, x, len(x), 1, len(x), a)
	}
}

// actTile applies a to the rows x cols tile at c (row stride ldc) with
// kern's activations: the epilogue's last step, on the tile while it is in
// cache.
func actTile(kern *kernel, c []float32, ldc, rows, cols int, a Act) {
	if a.Kind == ActNone || rows == 0 || cols == 0 {
		return
	}
	_ = c[(rows-1)*ldc+cols-1]
	if kern.act != nil && kern.act[a.Kind] != nil {
		kern.act[a.Kind](&c[0], ldc, rows, cols, a.Lo, a.Hi)
		return
	}
	for i := range rows {
		actGeneric(c[i*ldc:i*ldc+cols], a)
	}
}

// clampFlag is flagClamp if the job's activation is a clamp: the
// micro-kernels apply it in registers.
func (j *job) clampFlag() int {
	if j.ep.Act.Kind == ActClamp {
		return flagClamp
	}
	return 0
}

// actAfter applies the job's activation, unless the micro-kernel did
// (clamp), to a tile it has just finished.
func (j *job) actAfter(kern *kernel, c []float32, ldc, rows, cols int) {
	if j.ep.Act.Kind > ActClamp {
		actTile(kern, c, ldc, rows, cols, j.ep.Act)
	}
}

// scaleFunc sets dst[i] = s * src[i] for i < n.
type scaleFunc func(dst, src *float32, n int, s float32)

// scaleKernels are the vector Scale kernels by kernel name (set at init).
var scaleKernels = map[string]scaleFunc{}

// Scale sets dst[i] = s * src[i] for i < len(dst) (src at least as long;
// dst may be src), with the vector kernel of the kernel in use: the
// squeeze-and-excite product of a plane and its channel's scale.
func Scale(dst, src []float32, s float32) {
	if len(dst) == 0 {
		return
	}
	src = src[:len(dst)]
	// A few floats (such as the gemv's last columns of B, one row at a
	// time, in infer's squeeze-and-excite source) are not worth a kernel
	// call; the product is the same either way.
	if len(dst) >= scaleMinVector {
		if f := scaleKernels[active.name]; f != nil {
			f(&dst[0], &src[0], len(dst), s)
			return
		}
	}
	for i, v := range src {
		dst[i] = s * v
	}
}

// scaleMinVector is the shortest run Scale hands to a vector kernel.
const scaleMinVector = 8

// sum64Vec, if set, returns the float64 sum of x[:n] for n a multiple of
// 32 (the AVX-512 kernel, whatever kernel is in use: it only widens and
// adds, so every kernel's result is the same up to the order of the adds).
var sum64Vec func(x *float32, n int) float64

// Sum64 returns the sum of x in float64: the global average pool's plane
// sums (every block's squeeze-and-excite in EfficientNet).
func Sum64(x []float32) float64 {
	var s float64
	if n := len(x) &^ 31; n > 0 && sum64Vec != nil {
		s = sum64Vec(&x[0], n)
		x = x[n:]
	}
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		s0 += float64(v[0])
		s1 += float64(v[1])
		s2 += float64(v[2])
		s3 += float64(v[3])
	}
	for _, v := range x[i:] {
		s0 += float64(v)
	}
	return s + (s0 + s1) + (s2 + s3)
}

// actGeneric is the pure-Go activation, the reference for the vector ones:
// e^x as exp32, the same range reduction and polynomial.
func actGeneric(x []float32, a Act) {
	switch a.Kind {
	case ActClamp:
		for i, v := range x {
			x[i] = min(max(v, a.Lo), a.Hi)
		}
	case ActSigmoid:
		for i, v := range x {
			x[i] = 1 / (1 + exp32(-v))
		}
	case ActSiLU:
		for i, v := range x {
			x[i] = v / (1 + exp32(-v))
		}
	case ActHardSwish:
		for i, v := range x {
			x[i] = v * min(max(v*(1.0/6)+0.5, 0), 1)
		}
	}
}

// exp32 is e^x in float32 for the activations: x clamped to [-87.3, 88.3]
// (so 2^n below is a normal float32), x = n ln2 + r with |r| <= ln2/2
// (ln2 in two parts, Cody-Waite), e^r by a degree-6 polynomial in Horner
// form (a Chebyshev fit on |r| <= ln2/2, coefficients rounded to float32:
// 2.0e-8 relative before rounding; one FMA fewer than the Taylor series to
// r^7 it replaced, at the same 2.33 / 2.05 ulp of sigmoid / SiLU), times
// 2^n through the exponent bits. TestExp32 measures it against math.Exp.
// The vector activations (_asm/act.go) use the same coefficients.
func exp32(x float32) float32 {
	const (
		expC2 = 0.5
		expC3 = 0.166664153
		expC4 = 0.0416663513
		expC5 = 0.00837512594
		expC6 = 0.00139411085
	)
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	x = min(max(x, -87.3), 88.3)
	n := float32(math.RoundToEven(float64(x * log2e)))
	r := x - n*ln2hi
	r -= n * ln2lo
	p := 1 + r*(1+r*(expC2+r*(expC3+r*(expC4+r*(expC5+r*expC6)))))
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}
