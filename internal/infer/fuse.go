package infer

// fuse folds BatchNormalization into the convolution before it and fuses a
// following Add (residual) and ReLU into the convolution's epilogue.
func fuse(net *network) {
	fuseBatchNorm(net)
	fuseResidual(net)
	fuseRelu(net)
	fuseSiLU(net)
	fuseActivation(net)
	fuseSEScale(net)
	fuseExpand(net)
}

// uses counts the readers of every value (the graph output counts once).
func (net *network) uses() map[string]int {
	u := map[string]int{net.output: 1}
	for _, l := range net.layers {
		for _, in := range l.in {
			u[in]++
		}
		if l.residual != "" {
			u[l.residual]++
		}
		if l.seScale != "" {
			u[l.seScale]++
		}
	}
	return u
}

// producers maps every value to the index of the layer that computes it.
func (net *network) producers() map[string]int {
	p := map[string]int{}
	for i, l := range net.layers {
		p[l.out] = i
	}
	return p
}

// removeLayers drops the layers in drop, keeping the order of the others.
func (net *network) removeLayers(drop map[*layer]bool) {
	kept := net.layers[:0]
	for _, l := range net.layers {
		if !drop[l] {
			kept = append(kept, l)
		}
	}
	net.layers = kept
}

// fuseBatchNorm scales the weights and bias of a convolution by the
// BatchNormalization after it.
func fuseBatchNorm(net *network) {
	u, p, drop := net.uses(), net.producers(), map[*layer]bool{}
	for _, l := range net.layers {
		if l.kind != kAffine || u[l.in[0]] != 1 {
			continue
		}
		i, ok := p[l.in[0]]
		if !ok || (net.layers[i].kind != kConv && net.layers[i].kind != kGConv) || drop[net.layers[i]] {
			continue
		}
		c := net.layers[i]
		per := c.cin * c.kh * c.kw
		for o := 0; o < c.cout; o++ {
			s := l.scale[o]
			for j := o * per; j < (o+1)*per; j++ {
				c.w[j] *= s
			}
			c.bias[o] = c.bias[o]*s + l.shift[o]
		}
		c.typ += "+BatchNormalization"
		c.out = l.out
		drop[l] = true
	}
	net.removeLayers(drop)
}

// fuseResidual fuses an Add after a convolution: the other operand becomes
// the residual of the later of the two convolutions, computed before it.
func fuseResidual(net *network) {
	u, p, drop := net.uses(), net.producers(), map[*layer]bool{}
	for _, l := range net.layers {
		if l.kind != kAdd {
			continue
		}
		best, other := -1, ""
		for j, in := range l.in {
			i, ok := p[in]
			if !ok || u[in] != 1 || net.layers[i].kind != kConv || net.layers[i].residual != "" || net.layers[i].relu {
				continue
			}
			o := l.in[1-j]
			if oi, ok := p[o]; ok && oi >= i {
				continue
			}
			if i > best {
				best, other = i, o
			}
		}
		if best < 0 {
			continue
		}
		c := net.layers[best]
		c.residual, c.out = other, l.out
		c.typ += "+Add"
		drop[l] = true
	}
	net.removeLayers(drop)
}

// fuseRelu fuses a ReLU into the layer before it, if it has an epilogue.
func fuseRelu(net *network) {
	u, p, drop := net.uses(), net.producers(), map[*layer]bool{}
	for _, l := range net.layers {
		if l.kind != kRelu || u[l.in[0]] != 1 {
			continue
		}
		i, ok := p[l.in[0]]
		if !ok {
			continue
		}
		src := net.layers[i]
		switch src.kind {
		case kConv, kAffine, kAdd, kFC, kGConv:
		default:
			continue
		}
		if src.relu || drop[src] {
			continue
		}
		src.relu, src.out = true, l.out
		src.typ += "+Relu"
		drop[l] = true
	}
	net.removeLayers(drop)
}

// fuseSiLU turns Mul(x, Sigmoid(x)) into SiLU.
func fuseSiLU(net *network) {
	u, p, drop := net.uses(), net.producers(), map[*layer]bool{}
	for _, l := range net.layers {
		if l.kind != kBinary || l.arith != "Mul" || len(l.in) != 2 {
			continue
		}
		for j, in := range l.in {
			i, ok := p[in]
			if !ok || u[in] != 1 {
				continue
			}
			s := net.layers[i]
			if s.kind != kUnary || s.act.kind != actSigmoid || s.in[0] != l.in[1-j] || drop[s] {
				continue
			}
			l.kind, l.in, l.act, l.arith = kUnary, []string{s.in[0]}, activation{kind: actSiLU}, ""
			l.typ = "Sigmoid+Mul"
			drop[s] = true
			break
		}
	}
	net.removeLayers(drop)
}

// fuseActivation folds an activation into the convolution before it: any
// into a grouped convolution (applied per plane), those the GEMM epilogue
// has (Clip, Sigmoid, SiLU, HardSwish) into a GEMM convolution, after its
// bias and residual.
func fuseActivation(net *network) {
	u, p, drop := net.uses(), net.producers(), map[*layer]bool{}
	for _, l := range net.layers {
		if l.kind != kUnary || u[l.in[0]] != 1 {
			continue
		}
		i, ok := p[l.in[0]]
		if !ok {
			continue
		}
		c := net.layers[i]
		if c.relu || c.act.kind != actNone || drop[c] {
			continue
		}
		if _, ok := l.act.gemmAct(); c.kind != kGConv && (c.kind != kConv || !ok) {
			continue
		}
		c.act, c.out = l.act, l.out
		c.typ += "+" + l.typ
		drop[l] = true
	}
	net.removeLayers(drop)
}

// fuseSEScale moves a squeeze-and-excite product Mul(x, s), s per channel
// (perChannel), into the 1x1 convolution that is its only reader: the
// convolution scales its B by s block by block (scaledSource) instead of
// reading a scaled copy of x. Not where gemm reads a plain B in place
// (cin <= seInPlaceK): the separate product measured faster there.
func fuseSEScale(net *network) {
	u, p, drop := net.uses(), net.producers(), map[*layer]bool{}
	readers := map[string][]*layer{}
	for _, l := range net.layers {
		for _, in := range l.in {
			readers[in] = append(readers[in], l)
		}
	}
	for _, l := range net.layers {
		if l.kind != kBinary || l.arith != "Mul" || len(l.in) != 2 || u[l.out] != 1 || len(readers[l.out]) != 1 {
			continue
		}
		c := readers[l.out][0]
		if !pointwise(c) || c.in[0] != l.out || c.seScale != "" || c.residual == l.out || c.cin <= seInPlaceK {
			continue
		}
		for j, s := range l.in {
			if x := l.in[1-j]; perChannel(net, p, s, 4) && !perChannel(net, p, x, 4) {
				c.in[0], c.seScale = x, s
				c.typ = "Mul+" + c.typ
				drop[l] = true
				break
			}
		}
	}
	net.removeLayers(drop)
}

// pointwise reports whether l is a 1x1 convolution of stride 1 without
// padding: its B is its input as it is.
func pointwise(l *layer) bool {
	return l.kind == kConv && l.kh == 1 && l.kw == 1 && l.sh == 1 && l.sw == 1 && l.pads == [4]int{}
}

// perChannel reports whether value v is one number per channel and image
// ([N, C, 1, 1]): a global average pool, or pointwise convolutions and
// activations of one, through at most depth layers.
func perChannel(net *network, p map[string]int, v string, depth int) bool {
	i, ok := p[v]
	if !ok || depth == 0 {
		return false
	}
	switch l := net.layers[i]; {
	case l.kind == kGAP:
		return true
	case l.kind == kUnary || (pointwise(l) && l.residual == "" && l.seScale == ""):
		return perChannel(net, p, l.in[0], depth-1)
	}
	return false
}

// fuseExpand moves a 1x1 expanding convolution into the depthwise
// convolution that is its only reader (an inverted-residual block,
// MobileNetV2, EfficientNet): depthwise output channel c needs only
// expanded channel c, so the fused layer computes the expansion a band of
// channels at a time and convolves each band while it is in cache
// (op_families_mb.go), in one fork-join, and the expanded tensor is never
// written whole.
func fuseExpand(net *network) {
	u, p, drop := net.uses(), net.producers(), map[*layer]bool{}
	for _, l := range net.layers {
		if l.kind != kGConv || l.cin != 1 || l.cout != l.group || l.expand != nil || u[l.in[0]] != 1 {
			continue
		}
		i, ok := p[l.in[0]]
		if !ok {
			continue
		}
		e := net.layers[i]
		if !pointwise(e) || e.residual != "" || e.seScale != "" || e.cout != l.group || drop[e] {
			continue
		}
		l.expand, l.in = e, []string{e.in[0]}
		l.typ = e.typ + "+" + l.typ
		drop[e] = true
	}
	net.removeLayers(drop)
}
