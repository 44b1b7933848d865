package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/mlserve/mlserve/internal/infer"
)

func TestDecodeBase64(t *testing.T) {
	data := []byte{0xfb, 0xff, 0xfe, 0x00, 0x41} // bytes whose std and URL-safe encodings differ
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"std padded", base64.StdEncoding.EncodeToString(data), true},
		{"std unpadded", base64.RawStdEncoding.EncodeToString(data), true},
		{"url-safe padded", base64.URLEncoding.EncodeToString(data), true},
		{"url-safe unpadded", base64.RawURLEncoding.EncodeToString(data), true},
		{"data URL", "data:image/png;base64," + base64.StdEncoding.EncodeToString(data), true},
		{"white space and line breaks", " " + base64.StdEncoding.EncodeToString(data)[:4] + "\n" + base64.StdEncoding.EncodeToString(data)[4:] + "\n", true},
		{"data URL not base64", "data:image/png,abc", false},
		{"not base64", "***", false},
		{"mixed alphabets", "+_AA", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeBase64(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && !bytes.Equal(got, data) {
				t.Fatalf("got %x, want %x", got, data)
			}
		})
	}
}

func TestCheckTopK(t *testing.T) {
	for k, ok := range map[int]bool{-1: false, 0: false, 1: true, 5: true, MaxTopK: true, MaxTopK + 1: false} {
		if err := CheckTopK(k); (err == nil) != ok {
			t.Errorf("CheckTopK(%d) = %v, want ok=%v", k, err, ok)
		}
	}
}

// The wire form keeps the schema the README documents: engine fields, the
// queue time inside timings_ms, the source with its ETag.
func TestFromEngineJSON(t *testing.T) {
	r := FromEngine(infer.Result{
		Model:       "m",
		Predictions: []infer.Prediction{{Rank: 1, ClassID: 258, Label: "Samoyed", Probability: 0.5}},
		Image:       &infer.ImageInfo{Width: 2, Height: 3, Format: "png"},
		TimingsMs:   &infer.Timings{Decode: 1, Preprocess: 2, Inference: 3, BatchSize: 4},
	})
	r.TimingsMs.Queue = 0.5
	r.Source = &Source{URI: "s3://b/k", Size: 9, ETag: `"e"`}
	got, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"model":"m","predictions":[{"rank":1,"class_id":258,"label":"Samoyed","probability":0.5}],` +
		`"image":{"width":2,"height":3,"format":"png"},` +
		`"timings_ms":{"queue":0.5,"decode":1,"preprocess":2,"inference":3,"batch_size":4},` +
		`"source":{"uri":"s3://b/k","size":9,"etag":"\"e\""}}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	failed, _ := json.Marshal(FromEngine(infer.Result{Model: "m", Error: &infer.ErrorInfo{Code: "empty", Message: "zero bytes"}}))
	if want := `{"model":"m","predictions":null,"error":{"code":"empty","message":"zero bytes"}}`; string(failed) != want {
		t.Errorf("failed: got %s, want %s", failed, want)
	}
}
