package infer

import (
	"context"
	"fmt"
	"os"
	"testing"
)

func TestZZDump(t *testing.T) {
	f := os.Getenv("DUMP")
	if f == "" {
		t.Skip()
	}
	data, _ := os.ReadFile(f)
	m, err := decodeModel(data)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("input", m.input, m.inputShape)
	for _, op := range m.ops {
		fmt.Println(op.typ, op.name, op.in, op.out, op.attrs)
	}
}

func TestZZImg(t *testing.T) {
	f := os.Getenv("MODEL")
	if f == "" {
		t.Skip()
	}
	c, err := LoadFile(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	px := readF32(t, os.Getenv("IMG"))
	rows, err := c.Logits(context.Background(), [][]float32{px})
	if err != nil {
		t.Fatal(err)
	}
	probs := make([]float64, len(rows[0]))
	softmax(probs, rows[0])
	for _, k := range []int{501, 510, 711, 344, 15} {
		fmt.Printf("%d %.4f\n", k, probs[k])
	}
}

func TestZZPrep(t *testing.T) {
	f := os.Getenv("MODEL")
	if f == "" {
		t.Skip()
	}
	c, err := LoadFile(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{"dog-768x576.jpg", "scene-500x375.png", "exif-rot6-480x360.jpg"} {
		data, _ := os.ReadFile("../../../shared/fixtures/images/" + img)
		in, err := c.Prepare(data)
		if err != nil {
			t.Fatal(err)
		}
		want := readF32(t, "../../../shared/fixtures/preprocess/"+img+".f32")
		rows, _ := c.Logits(context.Background(), [][]float32{in.Pixels})
		probs := make([]float64, len(rows[0]))
		softmax(probs, rows[0])
		fmt.Println(img, relL2(in.Pixels, want), probs[501], probs[510])
	}
}
