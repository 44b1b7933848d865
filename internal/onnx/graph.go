package onnx

import (
	"fmt"
	"sort"

	onnxgo "github.com/owulveryck/onnx-go"
	"gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/simple"
	"gorgonia.org/tensor"
)

// onnxNode is a node of the graph onnx-go decodes into: a named value
// (graph input, initializer or node output) and, for node outputs, the
// operation that produces it.
type onnxNode struct {
	id     int64
	name   string
	tensor tensor.Tensor
	op     *onnxgo.Operation
	// outputs is set on the first output of a multi-output operation.
	outputs []*onnxNode
}

func (n *onnxNode) ID() int64                       { return n.id }
func (n *onnxNode) SetName(s string)                { n.name = s }
func (n *onnxNode) GetName() string                 { return n.name }
func (n *onnxNode) SetTensor(t tensor.Tensor) error { n.tensor = t; return nil }
func (n *onnxNode) GetTensor() tensor.Tensor        { return n.tensor }

var (
	_ onnxgo.Namer       = (*onnxNode)(nil)
	_ onnxgo.DataCarrier = (*onnxNode)(nil)
	_ onnxgo.Backend     = (*onnxBackend)(nil)
)

type edge struct {
	to    *onnxNode
	index int
}

// onnxBackend is an onnxgo.Backend that records the model as onnx-go decodes
// it: operations in file (topological) order and each one's ordered inputs.
type onnxBackend struct {
	*simple.WeightedDirectedGraph
	inputs map[int64][]edge // node id -> its operation's inputs
	ops    []*onnxNode      // first output of every operation, in order
}

func newONNXBackend() *onnxBackend {
	return &onnxBackend{
		WeightedDirectedGraph: simple.NewWeightedDirectedGraph(0, 0),
		inputs:                map[int64][]edge{},
	}
}

func (b *onnxBackend) NewNode() graph.Node {
	return &onnxNode{id: b.WeightedDirectedGraph.NewNode().ID()}
}

// SetWeightedEdge records an input edge. onnx-go adds one edge from an
// operation's output to each of its inputs, weighted by the input index. The
// simple graph would merge two edges between the same pair of nodes (an op
// taking one value twice), so the edges are kept here as well, in order.
func (b *onnxBackend) SetWeightedEdge(e graph.WeightedEdge) {
	from, ok1 := e.From().(*onnxNode)
	to, ok2 := e.To().(*onnxNode)
	if ok1 && ok2 {
		b.inputs[from.id] = append(b.inputs[from.id], edge{to: to, index: int(e.Weight())})
	}
	if e.From().ID() != e.To().ID() {
		b.WeightedDirectedGraph.SetWeightedEdge(e)
	}
}

func (b *onnxBackend) ApplyOperation(op onnxgo.Operation, outs ...graph.Node) error {
	if len(outs) == 0 {
		return fmt.Errorf("operation %s has no output", op.Name)
	}
	nodes := make([]*onnxNode, len(outs))
	for i, o := range outs {
		n, ok := o.(*onnxNode)
		if !ok {
			return fmt.Errorf("operation %s: unexpected node type %T", op.Name, o)
		}
		nodes[i] = n
	}
	first := nodes[0]
	first.op = &op
	first.outputs = nodes
	b.ops = append(b.ops, first)
	return nil
}

// opInputs returns the input names of the operation producing n, in order.
// onnx-go adds the same input edges to every output of an operation, so for
// a multi-output operation only the first output's edges are read, and the
// duplicates recorded for the other outputs are dropped by index.
func (b *onnxBackend) opInputs(n *onnxNode) []*onnxNode {
	es := b.inputs[n.id]
	sort.SliceStable(es, func(i, j int) bool { return es[i].index < es[j].index })
	var ins []*onnxNode
	for _, e := range es {
		if e.index == len(ins) {
			ins = append(ins, e.to)
		}
	}
	return ins
}
