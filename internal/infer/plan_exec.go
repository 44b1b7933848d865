package infer

import (
	"fmt"
	"hash"
	"hash/fnv"
	"time"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/mlserve/mlserve/internal/dwconv"
	"github.com/mlserve/mlserve/internal/gemm"
)

// execOp runs one layer. It is a gorgonia.Op: the tape machine calls Do in
// dependency order, and Do computes straight into the planned arena
// buffers, returning a tensor that views its output buffer.
type execOp struct {
	p       *plan
	l       *layer
	ins     []*value // activation inputs, in order (residual last for kConv)
	out     *value
	tmp     []*buffer // scratch planned in the arena: Winograd, subsampled input, FC transposes
	outT    *tensor.Dense
	g       geom
	direct  bool      // kConv: 1x1 stride-1 unpadded, the input is the GEMM's B
	wino    *winoConv // kConv 3x3 stride 1 as Winograd, with its scratch wv, wm
	wv, wm  *buffer
	sub     *buffer       // kConv 1x1 with a stride: the input subsampled, the GEMM's B
	src     *im2colSource // kConv otherwise: B made on demand from the input
	dw      *dwconv.Conv  // kGConv: the direct kernel (op_gconv.go)
	pool    *buffer       // kGConv: a GlobalAveragePool's output it writes too (op_families_se.go)
	pooled  bool          // kGAP: computed by its producer's pool
	se      *scaledSource // kConv with seScale: B is the input times the gate
	nchw    bool          // kView of a 4-D batch: reorder CNHW to NCHW
	bin     *broadcast    // kBinary, and kAdd of different shapes (op_eltwise.go)
	rows    int           // kFC: rows of the input matrix
	parts   []*value      // Concat: every input in order, constants too
	strided               // Transpose, Slice, ReduceMean, relayouts (op_layout.go)
	flops   float64
	dur     time.Duration
}

var _ gorgonia.Op = (*execOp)(nil)

func (o *execOp) Arity() int { return len(o.ins) }
func (o *execOp) Type() hm.Type {
	ts := make(hm.Types, 0, len(o.ins)+1)
	for _, in := range o.ins {
		ts = append(ts, gorgonia.TensorType{Dims: len(in.shape), Of: tensor.Float32})
	}
	ts = append(ts, gorgonia.TensorType{Dims: len(o.out.shape), Of: tensor.Float32})
	return hm.NewFnType(ts...)
}
func (o *execOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.Shape(append([]int(nil), o.out.shape...)), nil
}
func (o *execOp) ReturnsPtr() bool     { return true }
func (o *execOp) CallsExtern() bool    { return false }
func (o *execOp) OverwritesInput() int { return -1 }
func (o *execOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "mlserve.%s.%s.%d.%p", o.l.kind, o.l.name, o.p.n, o)
}
func (o *execOp) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}
func (o *execOp) String() string { return o.l.typ + ":" + o.l.name }

func (o *execOp) Do(...gorgonia.Value) (gorgonia.Value, error) {
	if err := o.p.ctx.Err(); err != nil {
		return nil, err
	}
	var start time.Time
	if o.p.prof {
		start = time.Now()
	}
	o.run()
	if o.p.prof {
		o.dur += time.Since(start)
	}
	return o.outT, nil
}

// run executes the layer on the arena buffers.
func (o *execOp) run() {
	l, n := o.l, o.p.n
	src := o.ins[0].buf.data
	dst := o.out.buf.data
	switch l.kind {
	case kConv:
		// Activations are stored CNHW (channel-major, the batch inside),
		// so one GEMM covers the whole batch: C[cout, n*oh*ow] =
		// W[cout, cin*kh*kw] * B[cin*kh*kw, n*oh*ow].
		ep := gemm.Epilogue{Bias: l.bias, ReLU: l.relu}
		ep.Act, _ = l.act.gemmAct()
		if l.residual != "" {
			ep.Residual = o.ins[1].buf.data
		}
		cols := n * o.g.oh * o.g.ow
		if o.wino != nil {
			o.wino.res = ep.Residual
			o.wino.run(dst, src, o.wv.data, o.wm.data)
			if l.act.kind != actNone {
				applyActivation(dst, dst, l.act)
			}
			break
		}
		if o.sub != nil {
			subsample(o.sub.data, src, l.cin*n, o.g)
			gemm.Mul(dst, l.packed, o.sub.data, cols, ep)
			break
		}
		if o.se != nil {
			o.runSEScale(dst, src, cols, ep)
			break
		}
		if o.direct {
			gemm.Mul(dst, l.packed, src, cols, ep)
			break
		}
		o.src.in = src
		// Made block by block inside the GEMM, also for few columns, where
		// Mul splits the rows of A and each worker makes the (small) B
		// again: still faster than making it whole first (BenchmarkConv:
		// 1.1-1.9x on ResNet's stride-2 3x3 layers at batch 1).
		gemm.MulSource(dst, l.packed, o.src, cols, ep)
	case kAffine:
		affine(dst, src, o.g.c, o.g.h*o.g.w, o.g.sh, l.scale, l.shift, l.relu)
	case kAdd:
		if o.bin != nil {
			o.bin.run(dst, o.ins)
			break
		}
		addRelu(dst, src, o.ins[1].buf.data, l.relu)
	case kRelu:
		reluInto(dst, src)
	case kMaxPool:
		maxPool(dst, src, n*o.g.c, o.g)
	case kGAP:
		if o.pooled {
			break
		}
		globalAvgPool(dst, src, n*o.g.c, o.g.h*o.g.w)
	case kFC:
		// out[n, m] = in[n, k] W^T: as C[m, n] = W[m, k] * in^T[k, n].
		bt, ct, rows := o.tmp[0].data, o.tmp[1].data, o.rows
		for b := 0; b < rows; b++ {
			for i := 0; i < l.k; i++ {
				bt[i*rows+b] = src[b*l.k+i]
			}
		}
		gemm.Mul(ct, l.packed, bt, rows, gemm.Epilogue{Bias: l.bias, ReLU: l.relu})
		for b := 0; b < rows; b++ {
			for j := 0; j < l.m; j++ {
				dst[b*l.m+j] = ct[j*rows+b]
			}
		}
	case kSoftmax:
		softmaxRows(dst, src, o.out.shape[len(o.out.shape)-1])
	case kView:
		if o.nchw {
			toNCHW(dst, src, n, o.g.c, o.g.h*o.g.w)
		} else if o.relayout {
			o.runRelayout(src, dst)
		}
		// Otherwise the same buffer with a new shape: nothing to compute.
	default:
		o.runExtra(src, dst)
	}
}
