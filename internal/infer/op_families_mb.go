package infer

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/mlserve/mlserve/internal/gemm"
)

// The inverted-residual (MBConv) block's expand 1x1 convolution and
// depthwise convolution as one layer (fuseExpand): depthwise channel c
// reads only expanded channel c, so each share of the layer's one
// fork-join computes a band of expanded channels (the rows of the expand's
// weights, gemm.RowBlock, times the whole block input, on its own
// goroutine) into a buffer of its own that stays in its core's L2, and
// convolves those channels from there at once. The expanded tensor (at
// MobileNetV2's second block 96 x 112 x 112 floats, 4.8 MB) never goes to
// memory, and the many equal bands balance when one vCPU is slow.

// mbBands is how a fused layer splits its expansion at one width of the
// expand's GEMM (columns: batch times pixels): bands of rows channels.
type mbBands struct {
	rows int             // channels per band (the last may have fewer)
	a    []*gemm.PackedA // the expand's weights of each band
}

// mbBufs holds the band buffers and packed block inputs of every fused
// layer: one free list, so that the layers of a run reuse the same few
// buffers, which stay in cache, instead of a buffer per layer. Unlike a
// sync.Pool it keeps them across garbage collections (they are a few per
// running share: a band, about mbBandFloats, and a block input).
var mbBufs struct {
	sync.Mutex
	free []*[]float32
}

// mbBuf takes a buffer of at least n floats from mbBufs; mbPut returns it.
func mbBuf(n int) *[]float32 {
	mbBufs.Lock()
	var b *[]float32
	if k := len(mbBufs.free); k > 0 {
		b = mbBufs.free[k-1]
		mbBufs.free = mbBufs.free[:k-1]
	}
	mbBufs.Unlock()
	if b == nil {
		b = new([]float32)
	}
	if len(*b) < n {
		*b = make([]float32, n)
	}
	return b
}

func mbPut(b *[]float32) {
	mbBufs.Lock()
	mbBufs.free = append(mbBufs.free, b)
	mbBufs.Unlock()
}

// Band sizes: a band's buffer of expanded channels is about mbBandFloats
// (512 KiB: half of this CPU's 1 MiB L2 per core, the rest for the block
// input and the depthwise scratch; rounded up to whole panels of the
// expand's rows, gemm's PanelRows), and with several threads there are at
// least mbBandsPerThread bands per thread, to balance (at one thread, as
// few as the size allows: each band costs a little). Where even one panel
// over the whole batch is over mbMaxBandFloats (batch 8 at 56x56 and
// above), the layer runs image by image, and where one image's panel is
// too (planes over about 147x147), the two convolutions in turn, through
// a whole expanded tensor.
var (
	mbBandFloats     = 1 << 17
	mbMaxBandFloats  = 1 << 18
	mbBandsPerThread = 4
)

// bandKey is what a layer's bands depend on: the columns of the expand's
// GEMM (batch times pixels) and the threads.
type bandKey struct{ cols, threads int }

// mbBandsFor returns the bands of l's expansion at cols columns, made once
// per width and thread count, or nil where one panel of rows at that width
// is over mbMaxBandFloats.
func (l *layer) mbBandsFor(cols int) *mbBands {
	key := bandKey{cols, runtime.GOMAXPROCS(0)}
	if b, ok := l.bands.Load(key); ok {
		return b.(*mbBands)
	}
	e := l.expand
	mr := e.packed.PanelRows()
	if mr*cols > mbMaxBandFloats {
		l.bands.Store(key, (*mbBands)(nil))
		return nil
	}
	minBands := 1
	if key.threads > 1 {
		minBands = mbBandsPerThread * key.threads
	}
	// As many bands as the size and the threads ask for, as even as the
	// panels allow.
	bands := max(minBands, ceilDiv(e.cout*cols, mbBandFloats))
	rows := max(mr, ceilDiv(ceilDiv(e.cout, bands), mr)*mr)
	b := &mbBands{rows: rows}
	for r0 := 0; r0 < e.cout; r0 += rows {
		b.a = append(b.a, e.packed.RowBlock(r0, min(e.cout, r0+rows)))
	}
	got, _ := l.bands.LoadOrStore(key, b)
	return got.(*mbBands)
}

// setupMB plans a depthwise convolution with its expansion fused
// (l.expand): x is the block input [n, cin, h, w].
func (o *execOp) setupMB(x *value) error {
	l, e, n := o.l, o.l.expand, o.p.n
	if err := o.need4(x); err != nil {
		return err
	}
	if o.g.c != e.cin {
		return fmt.Errorf("input has %d channels, weights want %d", o.g.c, e.cin)
	}
	if _, _, _, _, err := o.convGeom(x.shape); err != nil {
		return err
	}
	o.g.c = l.group
	o.newOut(n, l.cout, o.g.oh, o.g.ow)
	hw := o.g.h * o.g.w
	o.flops = 2*float64(n*l.cout*o.g.oh*o.g.ow)*float64(l.kh*l.kw) + 2*float64(n*hw*e.cout*e.cin)
	o.dw = newGroupConv(o.g, 1, l.gconvAct())
	// Packed after the first plan (convOutSizes): it is only for shapes.
	if e.packed != nil && l.mbBandsFor(n*hw) == nil && l.mbBandsFor(hw) == nil {
		o.tmp = append(o.tmp, &buffer{size: e.cout * n * hw})
	}
	return nil
}

// runMB runs a layer planned by setupMB; pool is as groupConv's. A batch
// whose bands would be too large for the cache runs image by image (the
// bands of one image's columns), and where even those are too large, the
// two convolutions run in turn through the whole expanded tensor.
func (o *execOp) runMB(dst, src, pool []float32) {
	l, e, n := o.l, o.l.expand, o.p.n
	hw := o.g.h * o.g.w
	ep := gemm.Epilogue{Bias: e.bias, ReLU: e.relu}
	ep.Act, _ = e.act.gemmAct()
	a := l.gconvAct()
	if bd := l.mbBandsFor(n * hw); bd != nil {
		o.runBands(bd, dst, src, pool, ep, a)
		return
	}
	if bd := l.mbBandsFor(hw); bd != nil {
		o.runImageBands(bd, dst, src, pool, ep, a)
		return
	}
	x := o.tmp[0].data
	gemm.Mul(x, e.packed, src, n*hw, ep)
	groupConv(dst, x, o.dw, l.w, l.bias, n, o.g, 1, l.cout, l.group, a, pool)
}

// runBands computes the expansion of the whole batch band by band, each
// band's depthwise convolution right after it.
func (o *execOp) runBands(bd *mbBands, dst, src, pool []float32, ep gemm.Epilogue, a activation) {
	l, e, n := o.l, o.l.expand, o.p.n
	cols := n * o.g.h * o.g.w
	// Where gemm would pack B (more rows than it reads in place), it is
	// packed once here for every band instead of by each.
	pb := mbBuf(0)
	defer mbPut(pb)
	packed := gemm.PackB(pb, e.packed, src, cols)
	parallelFor(len(bd.a), 1, func(lo, hi int) {
		s := o.dw.Scratch()
		buf := mbBuf(bd.rows * cols)
		for b := lo; b < hi; b++ {
			r0, r1 := bd.band(b)
			bd.expand(*buf, b, src, *pb, packed, cols, ep)
			depthwisePlanes(s, o.dw, dst, *buf, r0*n, l.w, l.bias, n, o.g, a, pool, r0*n, r1*n)
		}
		mbPut(buf)
		o.dw.Release(s)
	})
}

// runImageBands is runBands one image at a time: the shares are (image,
// band) pairs, image-major, and a share copies an image's input (its
// strided rows of the CNHW batch) into a B of its own, packing it where
// gemm would, when its image changes.
func (o *execOp) runImageBands(bd *mbBands, dst, src, pool []float32, ep gemm.Epilogue, a activation) {
	l, e, n := o.l, o.l.expand, o.p.n
	hw, ohw, ksz := o.g.h*o.g.w, o.g.oh*o.g.ow, l.kh*l.kw
	post := postAct(a)
	nb := len(bd.a)
	parallelFor(n*nb, 1, func(lo, hi int) {
		s := o.dw.Scratch()
		buf, xb, pb := mbBuf(bd.rows*hw), mbBuf(e.cin*hw), mbBuf(0)
		img, packed := -1, false
		for u := lo; u < hi; u++ {
			b, band := u/nb, u%nb
			if b != img {
				img = b
				for ci := range e.cin {
					copy((*xb)[ci*hw:(ci+1)*hw], src[(ci*n+b)*hw:])
				}
				packed = gemm.PackB(pb, e.packed, *xb, hw)
			}
			bd.expand(*buf, band, *xb, *pb, packed, hw, ep)
			r0, r1 := bd.band(band)
			for c := r0; c < r1; c++ {
				p := c*n + b
				o.dw.RunWith(s, dst[p*ohw:], ohw, (*buf)[(c-r0)*hw:], hw, l.w[c*ksz:(c+1)*ksz], l.bias[c:c+1])
				if post || pool != nil {
					finishPlanes(dst[p*ohw:(p+1)*ohw], ohw, a, post, pool, p)
				}
			}
		}
		mbPut(buf)
		mbPut(xb)
		mbPut(pb)
		o.dw.Release(s)
	})
}

// expand computes band b of the expansion into dst: its rows of the
// weights times the block input x of cols columns, read from packedX
// where PackB packed it (packed), and with its rows of ep's bias.
func (bd *mbBands) expand(dst []float32, b int, x, packedX []float32, packed bool, cols int, ep gemm.Epilogue) {
	ep = bd.epilogue(ep, b)
	if packed {
		gemm.MulPacked(dst, bd.a[b], packedX, cols, ep)
		return
	}
	gemm.MulSerialEpilogue(dst, bd.a[b], x, cols, ep)
}

// band returns the channels [r0, r1) of band b.
func (bd *mbBands) band(b int) (r0, r1 int) {
	r0 = b * bd.rows
	return r0, r0 + bd.a[b].M()
}

// epilogue is the expansion's epilogue ep for band b: its rows of the bias.
func (bd *mbBands) epilogue(ep gemm.Epilogue, b int) gemm.Epilogue {
	r0, r1 := bd.band(b)
	ep.Bias = ep.Bias[r0:r1]
	return ep
}
