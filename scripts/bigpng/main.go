// Command bigpng writes a 7000x7000 8-bit RGBA PNG (49 MP, under the 50 MP
// limit) for scripts/decode-budget-rss.sh: small to send, 196 MB decoded.
package main

import (
	"fmt"
	"image"
	"image/png"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: bigpng <out.png>")
		os.Exit(2)
	}
	img := image.NewNRGBA(image.Rect(0, 0, 7000, 7000))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = byte(i>>10), byte(i>>14), 200, 255
	}
	f, err := os.Create(os.Args[1])
	if err == nil {
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(f, img)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
