package infer

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"testing"

	"github.com/mlserve/mlserve/internal/gemm"
)

// placeAt lays p's buffers out one after another in order of first use,
// each starting on a 4 KiB boundary plus i*shift floats modulo 4 KiB for
// the i-th buffer, and binds p to a fresh 4 KiB-aligned arena: shift 0 puts
// every buffer at the same address modulo 4 KiB.
func placeAt(p *plan, shift int) {
	bufs := append([]*buffer(nil), p.bufs...)
	sort.SliceStable(bufs, func(i, j int) bool { return bufs[i].first < bufs[j].first })
	off := 0
	for i, b := range bufs {
		b.off = alignUp(off, pageFloats) + i*shift%pageFloats
		off = b.off + b.size
	}
	p.arena = off
	p.bind(newArena(off))
}

// BenchmarkArenaOffsets times layers of MobileNetV2 and EfficientNet-B0 at
// batch 1 with their input, output (and, unfused, intermediate) buffers at
// chosen distances modulo 4 KiB: shift=0 is the 4 KiB-aliased layout, the
// others stagger each buffer by that many floats. Run with -cpu 1,2.
func BenchmarkArenaOffsets(b *testing.B) {
	proj := func(cin, cout, hw int) *network {
		r := rand.New(rand.NewSource(1))
		l := &layer{kind: kConv, typ: "Conv", name: "proj", in: []string{"x"}, out: "y", cin: cin, cout: cout, kh: 1, kw: 1, sh: 1, sw: 1,
			w: randSlice(r, cout*cin), bias: randSlice(r, cout)}
		return &network{layers: []*layer{l}, consts: map[string]*constant{}, input: "x", inputShape: []int{cin, hw, hw}, output: "y"}
	}
	block := func(tt mbCase, fused bool) func() *network {
		return func() *network {
			net := mbNet(tt, rand.New(rand.NewSource(1)))
			if fused {
				fuse(net)
			}
			return net
		}
	}
	b56 := mbCase{1, 24, 144, 56, 56, 3, 1, relu6, relu6, false}
	for _, c := range []struct {
		name string
		net  func() *network
	}{
		{"proj1152to192x7x7", func() *network { return proj(1152, 192, 7) }},
		{"proj960to160x7x7", func() *network { return proj(960, 160, 7) }},
		{"proj144to24x56x56", func() *network { return proj(144, 24, 56) }},
		{"block24to144x56x56/unfused", block(b56, false)},
		{"block24to144x56x56/fused", block(b56, true)},
	} {
		net := c.net()
		packWeights(net)
		p, err := newPlan(net, 1, false)
		if err != nil {
			b.Fatal(err)
		}
		for _, shift := range []int{0, lineFloats, 4 * lineFloats, 5 * lineFloats, 8 * lineFloats, pageFloats / 2} {
			placeAt(p, shift)
			r := rand.New(rand.NewSource(2))
			copy(p.input.buf.data, randSlice(r, len(p.input.buf.data)))
			b.Run(fmt.Sprintf("%s/shift=%d", c.name, shift), func(b *testing.B) {
				for b.Loop() {
					done := gemm.Share()
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
