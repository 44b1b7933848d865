package infer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mlserve/mlserve/internal/imageprep"
)

// DefaultMaxBatch is the largest batch one engine run takes by default.
const DefaultMaxBatch = 32

// Classifier is a loaded model. It is safe for concurrent use: runs take
// turns on its lanes (one by default, since one run already uses every
// core; see lanes.go).
type Classifier struct {
	info      ModelInfo
	labels    []string
	pre       imageprep.Config
	net       *network
	maxBatch  int
	classes   int
	softmaxed bool // the graph ends in Softmax: outputs are probabilities
	profile   io.Writer

	profMu sync.Mutex // serializes profile output of concurrent lanes
	lanes  []*lane
	free   chan *lane // the lanes not running
}

// LoadFile loads an ONNX model file; external data files are read from
// its directory.
func LoadFile(path string, opts Options) (*Classifier, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	if opts.Name == "" {
		base := filepath.Base(path)
		opts.Name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	c, err := load(data, filepath.Dir(path), opts)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return c, nil
}

// LoadBytes loads an ONNX model from memory: it parses it with onnx-go,
// lowers and packs the weights, and compiles the batch-1 graph so a broken
// model fails here rather than on the first request. A model whose weights
// are in external data files must be loaded with LoadFile.
func LoadBytes(data []byte, opts Options) (*Classifier, error) {
	return load(data, "", opts)
}

// load loads a model whose external data files are in dir.
func load(data []byte, dir string, opts Options) (*Classifier, error) {
	sum := sha256.Sum256(data)
	m, err := decodeModel(data, dir)
	if err != nil {
		return nil, err
	}
	opset := m.opset
	// The protobuf and onnx-go's graph are garbage now: collect them before
	// lowering allocates the packed weights, to keep the peak RSS down.
	runtime.GC()
	net, err := lower(m)
	if err != nil {
		return nil, err
	}
	m = nil
	runtime.GC()
	c := &Classifier{
		net:      net,
		pre:      opts.Preprocess,
		maxBatch: opts.MaxBatch,
		profile:  opts.Profile,
	}
	c.lanes, c.free = newLanes(opts.Lanes)
	if c.maxBatch <= 0 {
		c.maxBatch = DefaultMaxBatch
	}
	if c.pre.Crop == 0 {
		c.pre.Crop = net.inputShape[1] // the model's input size
	}
	if c.pre.ResizeShorter == 0 {
		// ImageNet's ratio: 256 for 224, so 183 for 160 and 366 for 320.
		c.pre.ResizeShorter = (c.pre.Crop*256 + 112) / 224
	}
	if c.pre.Mean == ([3]float32{}) && c.pre.Std == ([3]float32{}) {
		c.pre.Mean = [3]float32{0.485, 0.456, 0.406}
		c.pre.Std = [3]float32{0.229, 0.224, 0.225}
	}
	if c.pre.MaxPixels == 0 {
		c.pre.MaxPixels = imageprep.DefaultMaxPixels
	}
	if s := net.inputShape; s[0] != 3 || s[1] != c.pre.Crop || s[2] != c.pre.Crop {
		return nil, &LoadError{Node: net.input, Err: fmt.Errorf("input shape %v: want [3,%d,%d] RGB images", s, c.pre.Crop, c.pre.Crop)}
	}
	p, err := c.plan(1)
	if err != nil {
		return nil, err
	}
	c.classes = prod(p.output.shape[1:])
	if c.classes < 1 {
		return nil, &LoadError{Node: net.output, Err: fmt.Errorf("output shape %v has no classes", p.output.shape)}
	}
	if last := net.layers[len(net.layers)-1]; last.kind == kSoftmax && last.out == net.output {
		c.softmaxed = true
	}
	switch {
	case len(opts.Labels) == c.classes:
		c.labels = opts.Labels
	case len(opts.Labels) > 0 && !opts.OptionalLabels:
		return nil, fmt.Errorf("%d labels for a model with %d classes", len(opts.Labels), c.classes)
	}
	c.info = ModelInfo{
		Name:       opts.Name,
		SHA256:     hex.EncodeToString(sum[:]),
		InputName:  net.input,
		InputSize:  c.pre.Crop,
		Classes:    c.classes,
		Labels:     len(c.labels),
		Parameters: net.params,
		Opset:      opset,
	}
	if c.info.Name == "" {
		c.info.Name = "model"
	}
	return c, nil
}

// Info describes the loaded model.
func (c *Classifier) Info() ModelInfo { return c.info }

// Labels returns the class names in use (nil when results carry ids only).
func (c *Classifier) Labels() []string { return c.labels }

// plan returns the first lane's compiled graph for batch size n, compiling
// it on first use.
func (c *Classifier) plan(n int) (*plan, error) {
	l, err := c.acquire(context.Background())
	if err != nil {
		return nil, err
	}
	defer c.release(l)
	return l.plan(c.net, n, c.profile != nil)
}

// Prepare decodes and preprocesses one image. Errors are *imageprep.Error
// for bad input.
func (c *Classifier) Prepare(data []byte) (*Input, error) {
	px := make([]float32, 3*c.pre.Crop*c.pre.Crop)
	info, err := imageprep.Prepare(data, c.pre, px)
	if err != nil {
		return nil, err
	}
	return &Input{Pixels: px, Image: info}, nil
}

// Logits runs the network on a batch of prepared pixel tensors and returns
// the raw output rows ([len(pixels), classes]; probabilities when the model
// ends in Softmax). Batches over MaxBatch are split.
func (c *Classifier) Logits(ctx context.Context, pixels [][]float32) ([][]float32, error) {
	per := 3 * c.pre.Crop * c.pre.Crop
	for i, px := range pixels {
		if len(px) != per {
			return nil, fmt.Errorf("input %d has %d values, want %d", i, len(px), per)
		}
	}
	out := make([][]float32, 0, len(pixels))
	for start := 0; start < len(pixels); start += c.maxBatch {
		chunk := pixels[start:min(start+c.maxBatch, len(pixels))]
		rows, err := c.runLanes(ctx, chunk)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

// execute runs plan p, bound to an arena, on a batch of pixel tensors.
func (c *Classifier) execute(ctx context.Context, p *plan, pixels [][]float32) ([][]float32, error) {
	n := len(pixels)
	// The engine stores activations CNHW: channel-major, batch inside.
	in := p.input.buf.data
	chans, hw := p.input.shape[1], p.input.shape[2]*p.input.shape[3]
	for i, px := range pixels {
		for ch := range chans {
			copy(in[(ch*n+i)*hw:(ch*n+i+1)*hw], px[ch*hw:(ch+1)*hw])
		}
	}
	if err := p.run(ctx); err != nil {
		return nil, err
	}
	res := p.output.buf.data
	rows := make([][]float32, n)
	flat := make([]float32, n*c.classes)
	if s := p.output.shape; len(s) == 4 {
		toNCHW(flat, res, n, s[1], s[2]*s[3])
	} else {
		copy(flat, res[:n*c.classes])
	}
	for i := range rows {
		rows[i] = flat[i*c.classes : (i+1)*c.classes]
	}
	return rows, nil
}

// Run classifies prepared inputs (split at MaxBatch) and returns one Result
// per input, in order, each with its top-k predictions.
func (c *Classifier) Run(ctx context.Context, inputs []*Input, topK int) ([]Result, error) {
	if len(inputs) == 0 {
		return nil, nil
	}
	if topK < 1 || topK > c.classes {
		return nil, fmt.Errorf("top-k %d out of range 1..%d", topK, c.classes)
	}
	pixels := make([][]float32, len(inputs))
	for i, in := range inputs {
		if in == nil {
			return nil, fmt.Errorf("input %d is nil", i)
		}
		pixels[i] = in.Pixels
	}
	start := time.Now()
	rows, err := c.Logits(ctx, pixels)
	if err != nil {
		return nil, err
	}
	inferMs := ms(time.Since(start))
	out := make([]Result, len(inputs))
	for i, in := range inputs {
		img := in.Image
		out[i] = Result{
			Model:       c.info.Name,
			Predictions: c.topK(rows[i], topK),
			Image:       &ImageInfo{Width: img.Width, Height: img.Height, Format: img.Format},
			TimingsMs: &Timings{
				Decode:     ms(img.DecodeTime),
				Preprocess: ms(img.PreprocessTime),
				Inference:  inferMs,
				BatchSize:  len(inputs),
			},
		}
		if img.Format == "" {
			out[i].Image = nil
		}
	}
	return out, nil
}

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())) / 1000 }

// topK turns one output row into the k most likely classes.
func (c *Classifier) topK(row []float32, k int) []Prediction {
	probs := make([]float64, len(row))
	if c.softmaxed {
		for i, v := range row {
			probs[i] = float64(v)
		}
	} else {
		softmax(probs, row)
	}
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	preds := make([]Prediction, k)
	for r := 0; r < k; r++ {
		id := idx[r]
		preds[r] = Prediction{Rank: r + 1, ClassID: id, Probability: math.Round(probs[id]*1e6) / 1e6}
		if c.labels != nil {
			preds[r].Label = c.labels[id]
		}
	}
	return preds
}

// Classify prepares and runs images as one batch; an image that fails gets a
// Result with Error set, the others still get their predictions.
func (c *Classifier) Classify(ctx context.Context, images [][]byte, topK int) []Result {
	return c.ClassifyWith(ctx, images, topK, c.Prepare)
}

// ClassifyWith is Classify with each image prepared by prepare instead of
// c.Prepare: a caller that admits each decode first (a memory budget)
// wraps Prepare and keeps the rest.
func (c *Classifier) ClassifyWith(ctx context.Context, images [][]byte, topK int, prepare func([]byte) (*Input, error)) []Result {
	out := make([]Result, len(images))
	var inputs []*Input
	var at []int
	for i, data := range images {
		in, err := prepare(data)
		if err != nil {
			out[i] = c.ErrorResult(err)
			continue
		}
		inputs = append(inputs, in)
		at = append(at, i)
	}
	res, err := c.Run(ctx, inputs, topK)
	for j, i := range at {
		if err != nil {
			out[i] = c.ErrorResult(err)
			continue
		}
		out[i] = res[j]
	}
	return out
}

// WarmupBatches is how many batch sizes Warmup compiles: the HTTP server's
// default largest dynamic batch.
const WarmupBatches = 8

// Warmup compiles the graphs of batch sizes 1 to WarmupBatches (and sizes
// the arena for the largest), then runs one inference on a blank image, so
// no request pays for either.
func (c *Classifier) Warmup(ctx context.Context) error {
	// Each lane runs sub-batches of at most laneBatch(WarmupBatches).
	largest := c.laneBatch(min(WarmupBatches, c.maxBatch))
	if err := c.warmLanes(ctx, largest); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	_, err := c.Logits(ctx, [][]float32{make([]float32, 3*c.pre.Crop*c.pre.Crop)})
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	return nil
}
