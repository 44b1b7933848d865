package infer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// buffer is a region of the shared arena, live between two steps of the
// execution order.
type buffer struct {
	size        int
	first, last int
	off         int
	data        []float32
}

// value is a tensor while planning: a constant or an activation stored in a
// buffer (views share their source's buffer).
type value struct {
	shape []int
	c     *constant
	buf   *buffer
	node  *gorgonia.Node
}

// plan is the network compiled for one batch size: a gorgonia graph of
// engine ops, its tape machine and the arena layout of every activation.
// Graphs are fixed to one batch size (onnx-go drops the symbolic batch
// dimension), so the Classifier keeps one plan per batch size.
type plan struct {
	n      int
	g      *gorgonia.ExprGraph
	vm     gorgonia.VM
	input  *value
	inT    *tensor.Dense
	output *value
	ops    []*execOp // execution order
	bufs   []*buffer
	arena  int // floats the arena needs
	bound  *float32
	ctx    context.Context
	prof   bool
}

// newPlan compiles net for batch size n.
func newPlan(net *network, n int, prof bool) (*plan, error) {
	p := &plan{n: n, g: gorgonia.NewGraph(), prof: prof, ctx: context.Background()}
	vals := map[string]*value{}
	get := func(l *layer, name string) (*value, error) {
		if v, ok := vals[name]; ok {
			return v, nil
		}
		if c, ok := net.consts[name]; ok {
			v := &value{shape: c.shape, c: c}
			vals[name] = v
			return v, nil
		}
		return nil, &LoadError{Node: l.name, Op: l.typ, Err: fmt.Errorf("input %q is not computed before it is used", name)}
	}
	inShape := append([]int{n}, net.inputShape...)
	p.input = &value{shape: inShape, buf: &buffer{size: prod(inShape)}}
	p.input.node = gorgonia.NewTensor(p.g, tensor.Float32, 4, gorgonia.WithShape(inShape...), gorgonia.WithName("input"))
	vals[net.input] = p.input

	for _, l := range net.layers {
		var ins []*value
		for _, name := range l.in {
			v, err := get(l, name)
			if err != nil {
				return nil, err
			}
			ins = append(ins, v)
		}
		if (l.kind == kShapeOp && !concatOfActivations(l, ins)) || foldable(l, ins) {
			c, err := shapeOp(l, ins)
			if err != nil {
				return nil, &LoadError{Node: l.name, Op: l.typ, Err: err}
			}
			vals[l.out] = &value{shape: c.shape, c: c}
			continue
		}
		o := &execOp{p: p, l: l}
		if err := o.setup(net, ins, get); err != nil {
			var le *LoadError
			if errors.As(err, &le) {
				return nil, err
			}
			return nil, &LoadError{Node: l.name, Op: l.typ, Err: err}
		}
		nodes := make([]*gorgonia.Node, len(o.ins))
		for i, in := range o.ins {
			nodes[i] = in.node
		}
		node, err := gorgonia.ApplyOp(o, nodes...)
		if err != nil {
			return nil, &LoadError{Node: l.name, Op: l.typ, Err: fmt.Errorf("gorgonia: %w", err)}
		}
		o.out.node = node
		vals[l.out] = o.out
		p.ops = append(p.ops, o)
	}
	out, ok := vals[net.output]
	if !ok || out.buf == nil {
		return nil, &LoadError{Node: net.output, Err: errors.New("the graph output is not computed from the input")}
	}
	p.output = out
	if err := p.schedule(); err != nil {
		return nil, err
	}
	p.vm = gorgonia.NewTapeMachine(p.g)
	return p, nil
}

func (p *plan) schedule() error {
	sorted, err := gorgonia.Sort(p.g)
	if err != nil {
		return fmt.Errorf("sort graph: %w", err)
	}
	step := map[*gorgonia.Node]int{}
	for i := range sorted {
		step[sorted[len(sorted)-1-i]] = i
	}
	byNode := map[*gorgonia.Node]*execOp{}
	for _, o := range p.ops {
		byNode[o.out.node] = o
	}
	var order []*execOp
	for i := len(sorted) - 1; i >= 0; i-- {
		if o, ok := byNode[sorted[i]]; ok {
			order = append(order, o)
		}
	}
	p.ops = order
	seen := map[*buffer]bool{}
	use := func(b *buffer, at int) {
		if !seen[b] {
			seen[b] = true
			b.first, b.last = at, at
			p.bufs = append(p.bufs, b)
		}
		b.first, b.last = min(b.first, at), max(b.last, at)
	}
	last := len(sorted)
	use(p.input.buf, -1)
	for _, o := range p.ops {
		at := step[o.out.node]
		for _, in := range o.ins {
			use(in.buf, at)
		}
		use(o.out.buf, at)
		for _, t := range o.tmp {
			use(t, at)
		}
	}
	use(p.output.buf, last)
	p.arena = layout(p.bufs)
	return nil
}

// bind points every buffer and output tensor at arena, which must hold at
// least p.arena floats.
func (p *plan) bind(arena []float32) {
	if len(arena) > 0 && p.bound == &arena[0] {
		return
	}
	for _, b := range p.bufs {
		b.data = arena[b.off : b.off+b.size : b.off+b.size]
	}
	p.inT = tensor.New(tensor.WithShape(p.input.shape...), tensor.WithBacking(p.input.buf.data))
	for _, o := range p.ops {
		o.outT = tensor.New(tensor.WithShape(o.out.shape...), tensor.WithBacking(o.out.buf.data[:prod(o.out.shape)]))
	}
	p.bound = &arena[0]
}

// run executes the plan on the bound arena: the input buffer must hold the
// batch already. The output buffer holds the result afterwards.
func (p *plan) run(ctx context.Context) error {
	p.ctx = ctx
	defer func() { p.ctx = context.Background() }()
	if err := gorgonia.Let(p.input.node, p.inT); err != nil {
		return fmt.Errorf("bind input: %w", err)
	}
	err := p.vm.RunAll()
	p.vm.Reset()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("run graph: %w", err)
	}
	return nil
}

// writeProfile prints the time and GFLOP/s of every op since the last call.
func (p *plan) writeProfile(w io.Writer) { writeProfiles(w, p.n, []*plan{p}, []int{1}) }

// writeProfiles prints one profile of a batch of n images run as plans
// (of one batch size or several), plans[i] run counts[i] times since the
// last call: every op's time summed over them, and its GFLOP/s over that
// sum. The plans' ops are matched by layer, in plans[0]'s order.
func writeProfiles(w io.Writer, n int, plans []*plan, counts []int) {
	if len(plans) == 0 {
		return
	}
	type sum struct {
		dur   time.Duration
		flops float64
	}
	sums := map[*layer]*sum{}
	runs := 0
	for j, p := range plans {
		runs += counts[j]
		for _, o := range p.ops {
			s := sums[o.l]
			if s == nil {
				s = &sum{}
				sums[o.l] = s
			}
			s.dur += o.dur
			s.flops += o.flops * float64(counts[j])
			o.dur = 0
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "batch %d\top\tname\toutput\tms\tGFLOP/s\t\n", n)
	if runs > 1 {
		fmt.Fprintf(tw, "(%d pieces side by side; times summed)\t\t\t\t\t\t\n", runs)
	}
	var total time.Duration
	var flops float64
	for i, o := range plans[0].ops {
		s := sums[o.l]
		gf := ""
		if s.flops > 0 && s.dur > 0 {
			gf = fmt.Sprintf("%.1f", s.flops/s.dur.Seconds()/1e9)
		}
		shape := o.out.shape
		if len(shape) >= 2 && shape[0] == o.p.n && n != o.p.n {
			shape = append([]int{n}, shape[1:]...)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%.3f\t%s\t\n", i, o.l.typ, o.l.name, shape, float64(s.dur.Microseconds())/1000, gf)
		total += s.dur
		flops += s.flops
	}
	fmt.Fprintf(tw, "\ttotal\t\t\t%.3f\t%.1f\t\n", float64(total.Microseconds())/1000, flops/total.Seconds()/1e9)
	tw.Flush()
}
