package infer

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readModel(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, "models", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestLoadErrors edits fixture models in place (same-length renames keep the
// protobuf valid) to check that what the engine cannot run is a load error
// naming the node, never a panic.
func TestLoadErrors(t *testing.T) {
	mini := readModel(t, "mini-v1-opset11.onnx")
	zoo := readModel(t, "zoo-v2-opset7.onnx")
	rename := func(data []byte, from, to string) []byte {
		if !bytes.Contains(data, []byte(from)) {
			t.Fatalf("fixture lacks %q", from)
		}
		return bytes.Replace(data, []byte(from), []byte(to), 1)
	}
	tests := []struct {
		name string
		data []byte
		want []string // substrings of the error
	}{
		{"unknown operator", rename(mini, "\x22\x11GlobalAveragePool", "\x22\x11GlobalAverageFool"), []string{"unsupported operator GlobalAverageFool", "node \""}},
		{"unknown attribute", rename(mini, "ceil_mode", "ceil_moda"), []string{"unsupported attribute \"ceil_moda\"", "(MaxPool)"}},
		{"unknown BatchNormalization attribute", rename(zoo, "momentum", "momentux"), []string{"unsupported attribute \"momentux\"", "resnetv24_batchnorm0_fwd"}},
		{"empty", nil, []string{"empty model file"}},
		{"not protobuf", []byte("this is not a model"), []string{"malformed ONNX model"}},
		{"truncated", mini[:len(mini)/2], []string{"malformed ONNX model"}},
		{"truncated header", mini[:40], []string{"malformed ONNX model"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadBytes(tt.data, Options{})
			if err == nil {
				t.Fatal("loaded")
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Errorf("error %T is not a *LoadError: %v", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// FuzzLoadBytes feeds mutated models to the loader: errors are fine, panics
// and hangs are not.
func FuzzLoadBytes(f *testing.F) {
	for _, name := range []string{"zoo-v2-opset7.onnx", "mini-v2-view-opset11.onnx"} {
		data := readModel(f, name)
		f.Add(data)
		f.Add(data[:len(data)/3])
	}
	f.Add([]byte{0x08, 0x07, 0x3a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := LoadBytes(data, Options{})
		if err == nil && c.Info().Classes < 1 {
			t.Fatalf("loaded a model with %d classes", c.Info().Classes)
		}
	})
}
