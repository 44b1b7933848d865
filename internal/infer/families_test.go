package infer

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/onnx"
)

// familyFiles are the fixture families the engine runs (fixtures README,
// families/), each checked against torch's logits.
var familyFiles = []struct{ file, ref string }{
	{"mobilenetv2-opset13.onnx", "mobilenetv2.out-b4.f32"},
	{"mobilenetv3-opset13.onnx", "mobilenetv3.out-b4.f32"},
	{"mobilenetv3-opset17.onnx", "mobilenetv3.out-b4.f32"},
	{"efficientnet-opset13.onnx", "efficientnet.out-b4.f32"},
	{"squeezenet-opset13.onnx", "squeezenet.out-b4.f32"},
	{"densenet-opset13.onnx", "densenet.out-b4.f32"},
	{"regnet-opset13.onnx", "regnet.out-b4.f32"},
	{"shufflenet-opset13.onnx", "shufflenet.out-b4.f32"},
	{"convnext-opset13.onnx", "convnext.out-b4.f32"},
	{"convnext-opset17.onnx", "convnext.out-b4.f32"},
	{"vit-opset13.onnx", "vit.out-b4.f32"},
	{"vit-opset17.onnx", "vit.out-b4.f32"},
}

// familyLimit is the fixtures README's limit for these files: ONNX Runtime
// reaches 8.7e-6 on them.
const familyLimit = 5e-5

func TestFamiliesParity(t *testing.T) {
	input := readF32(t, filepath.Join(fixtures, "models/input-b4.f32"))
	per := 3 * 224 * 224
	px := [][]float32{input[:per], input[per : 2*per], input[2*per : 3*per], input[3*per:]}
	eachKernel(t, func(kern string) {
		for _, tt := range familyFiles {
			t.Run(kern+"/"+tt.file, func(t *testing.T) {
				c, err := LoadFile(filepath.Join(fixtures, "families", tt.file), Options{})
				if err != nil {
					t.Fatal(err)
				}
				want := readF32(t, filepath.Join(fixtures, "families", tt.ref))
				for _, batch := range []int{4, 1} {
					var got []float32
					for start := 0; start < 4; start += batch {
						got = append(got, logitsFlat(t, c, px[start:start+batch])...)
					}
					if len(got) != len(want) {
						t.Fatalf("got %d outputs, want %d", len(got), len(want))
					}
					if e := relL2(got, want); !(e < familyLimit) {
						t.Errorf("batch %d: relative L2 error %.3g, want < %g", batch, e, familyLimit)
					} else {
						t.Logf("batch %d: relative L2 error %.3g", batch, e)
					}
				}
			})
		}
	})
}

// TestUnsupportedOperatorsListed renames two operators of a family file:
// loading must fail naming both (every node type it lacks, not the first),
// and Describe must list both as missing.
func TestUnsupportedOperatorsListed(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(fixtures, "families/mobilenetv3-opset17.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte("\x22\x09HardSwish"), []byte("\x22\x09HardSwash"))
	data = bytes.ReplaceAll(data, []byte("\x22\x0bHardSigmoid"), []byte("\x22\x0bHardSigmoix"))
	_, err = LoadBytes(data, Options{})
	if err == nil {
		t.Fatal("loaded")
	}
	for _, want := range []string{"unsupported operators HardSigmoix (", "HardSwash ("} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	d, err := onnx.Describe(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(Missing(d), ","); got != "HardSigmoix,HardSwash" {
		t.Errorf("Missing() = %s", got)
	}
}

// TestFamiliesImages runs torch's preprocessed tensor of every fixture image
// (preprocess/) through each family and checks the top-1 class against
// torch's (families/meta.json e2e; either class of a near tie, gap < 0.01).
func TestFamiliesImages(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(fixtures, "families/meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		E2E map[string]map[string]struct {
			Classes       []int     `json:"classes"`
			Probabilities []float64 `json:"probabilities"`
		} `json:"e2e"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	for _, tt := range familyFiles {
		family := tt.file[:strings.Index(tt.file, "-")]
		want := meta.E2E[family]
		if len(want) == 0 {
			t.Fatalf("no e2e references for %s", family)
		}
		t.Run(tt.file, func(t *testing.T) {
			c, err := LoadFile(filepath.Join(fixtures, "families", tt.file), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			var px [][]float32
			for img := range want {
				names = append(names, img)
				px = append(px, readF32(t, filepath.Join(fixtures, "preprocess", img+".f32")))
			}
			rows, err := c.Logits(context.Background(), px)
			if err != nil {
				t.Fatal(err)
			}
			for i, row := range rows {
				w := want[names[i]]
				top := 0
				for j, v := range row {
					if v > row[top] {
						top = j
					}
				}
				tie := w.Probabilities[0]-w.Probabilities[1] < 0.01
				if top != w.Classes[0] && !(tie && top == w.Classes[1]) {
					t.Errorf("%s: top-1 %d, want %d", names[i], top, w.Classes[0])
				}
			}
		})
	}
}

// TestInputSizeFromModel sets mobilenetv2's declared input to 160x160: the
// engine reads the size from the model (crop 160, shorter side 183, the
// ImageNet ratio) and runs it.
func TestInputSizeFromModel(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(fixtures, "families/mobilenetv2-opset13.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	// The input's two 224 dims (dim_value 224); nothing else in the file
	// has those bytes.
	if n := bytes.Count(data, []byte("\x08\xe0\x01")); n != 2 {
		t.Fatalf("found %d dims of 224, want 2", n)
	}
	data = bytes.ReplaceAll(data, []byte("\x08\xe0\x01"), []byte("\x08\xa0\x01"))
	c, err := LoadBytes(data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Info().InputSize != 160 || c.pre.ResizeShorter != 183 {
		t.Fatalf("input size %d, resize %d: want 160, 183", c.Info().InputSize, c.pre.ResizeShorter)
	}
	img, err := os.ReadFile(filepath.Join(fixtures, "images/scene-500x375.png"))
	if err != nil {
		t.Fatal(err)
	}
	rs := c.Classify(context.Background(), [][]byte{img, img}, 3)
	if len(rs) != 2 || rs[0].Error != nil || len(rs[0].Predictions) != 3 || rs[0].Predictions[0].ClassID != rs[1].Predictions[0].ClassID {
		t.Fatalf("results %+v", rs)
	}
}
