package client

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"

	xdraw "golang.org/x/image/draw"

	"github.com/mlserve/mlserve/internal/imageprep"
)

// Shrunk is an image as the client sends it.
type Shrunk struct {
	Data []byte
	// Width and Height are the original image's, after EXIF orientation;
	// Format is its format. The server describes the image it got, the
	// client reports these.
	Width, Height int
	Format        string
	Resized       bool // Data is a re-encoded smaller copy
}

// Shrink returns what the model needs of an image: when its shorter side
// is over shorter pixels, a copy resized to shorter (bilinear with
// antialiasing), EXIF orientation applied and alpha dropped (as the
// server's preprocessing does), re-encoded as JPEG at quality; else (or
// when the copy is no smaller) data itself. maxPixels is the decoder's pixel limit (0: imageprep's default).
// An image the client cannot decode is an error: the caller may send it
// as is and let the server report on it.
func Shrink(data []byte, shorter, quality, maxPixels int) (Shrunk, error) {
	img, format, err := imageprep.Decode(data, maxPixels)
	if err != nil {
		return Shrunk{}, err
	}
	o := imageprep.Orientation(format, data)
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := Shrunk{Data: data, Width: w, Height: h, Format: format}
	if o >= 5 {
		out.Width, out.Height = h, w
	}
	if min(w, h) <= shorter {
		return out, nil
	}
	nw, nh := shorter, shorter
	if w < h {
		nh = int((int64(h)*int64(shorter) + int64(w)/2) / int64(w))
	} else {
		nw = int((int64(w)*int64(shorter) + int64(h)/2) / int64(h))
	}
	small := image.NewRGBA(image.Rect(0, 0, nw, nh))
	xdraw.BiLinear.Scale(small, small.Bounds(), opaque(img), b, draw.Src, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, orient(small, o), &jpeg.Options{Quality: quality}); err != nil {
		return Shrunk{}, fmt.Errorf("encode jpeg: %w", err)
	}
	if buf.Len() >= len(data) {
		return out, nil // the original is smaller still, and exact
	}
	out.Data, out.Resized = buf.Bytes(), true
	return out, nil
}

// opaque drops the alpha of a non-premultiplied image, keeping its colour
// values: the server's preprocessing (like torchvision's convert("RGB"))
// ignores alpha rather than compositing it.
func opaque(img image.Image) image.Image {
	switch m := img.(type) {
	case *image.NRGBA:
		c := &image.NRGBA{Pix: bytes.Clone(m.Pix), Stride: m.Stride, Rect: m.Rect}
		for i := 3; i < len(c.Pix); i += 4 {
			c.Pix[i] = 0xff
		}
		return c
	case *image.NRGBA64:
		c := &image.NRGBA64{Pix: bytes.Clone(m.Pix), Stride: m.Stride, Rect: m.Rect}
		for i := 6; i < len(c.Pix); i += 8 {
			c.Pix[i], c.Pix[i+1] = 0xff, 0xff
		}
		return c
	}
	return img
}
