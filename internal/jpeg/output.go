package jpeg

import (
	"fmt"
	"image"
	"image/color"
)

// output turns the decoded planes into an image of the scaled size.
func (d *decoder) output() (image.Image, error) {
	if d.scans == 0 {
		return nil, FormatError("missing SOS marker")
	}
	if d.progressive {
		d.reconstruct()
	}
	w, h := ScaledSize(d.width, d.height, d.scale)
	rect := image.Rect(0, 0, w, h)
	switch d.ncomp {
	case 1:
		c := &d.comp[0]
		return &image.Gray{Pix: c.plane, Stride: c.bw * c.ss, Rect: rect}, nil
	case 3:
		return d.ycbcr(rect)
	}
	return d.cmyk(rect)
}

// ratio returns how many output pixels one sample of c spans across and down.
func (d *decoder) ratio(c *component) (int, int, bool) {
	ss0 := 8 / d.scale
	nh, nv := d.hmax*ss0, d.vmax*ss0
	dh, dv := c.h*c.ss, c.v*c.ss
	if nh%dh != 0 || nv%dv != 0 {
		return 0, 0, false
	}
	return nh / dh, nv / dv, true
}

func (d *decoder) ycbcr(rect image.Rectangle) (image.Image, error) {
	if d.adobe && d.adobeXform == 0 || !d.jfif && !d.adobe &&
		d.comp[0].id == 'R' && d.comp[1].id == 'G' && d.comp[2].id == 'B' {
		return nil, UnsupportedError("RGB-coded JPEG")
	}
	y, cb, cr := &d.comp[0], &d.comp[1], &d.comp[2]
	rh, rv, ok := d.ratio(y)
	if !ok || rh != 1 || rv != 1 || cb.h != cr.h || cb.v != cr.v {
		return nil, UnsupportedError(fmt.Sprintf("sampling factors %dx%d, %dx%d, %dx%d", y.h, y.v, cb.h, cb.v, cr.h, cr.v))
	}
	rh, rv, ok = d.ratio(cb)
	var sr image.YCbCrSubsampleRatio
	switch {
	case !ok:
	case rh == 1 && rv == 1:
		sr = image.YCbCrSubsampleRatio444
	case rh == 2 && rv == 1:
		sr = image.YCbCrSubsampleRatio422
	case rh == 2 && rv == 2:
		sr = image.YCbCrSubsampleRatio420
	case rh == 1 && rv == 2:
		sr = image.YCbCrSubsampleRatio440
	case rh == 4 && rv == 1:
		sr = image.YCbCrSubsampleRatio411
	case rh == 4 && rv == 2:
		sr = image.YCbCrSubsampleRatio410
	default:
		ok = false
	}
	if !ok {
		return nil, UnsupportedError(fmt.Sprintf("sampling factors %dx%d, %dx%d, %dx%d", y.h, y.v, cb.h, cb.v, cr.h, cr.v))
	}
	return &image.YCbCr{
		Y: y.plane, Cb: cb.plane, Cr: cr.plane,
		YStride: y.bw * y.ss, CStride: cb.bw * cb.ss,
		SubsampleRatio: sr, Rect: rect,
	}, nil
}

// cmyk interleaves four components into an *image.CMYK, replicating
// subsampled ones, with the standard library's conventions: Adobe CMYK is
// stored inverted, and YCCK (Adobe transform 2, or any transform but 0)
// is YCbCr-converted to inverted CMY.
func (d *decoder) cmyk(rect image.Rectangle) (image.Image, error) {
	if !d.adobe {
		return nil, UnsupportedError("4-component JPEG without Adobe APP14 metadata")
	}
	var rh, rv [4]int
	for i := range 4 {
		var ok bool
		rh[i], rv[i], ok = d.ratio(&d.comp[i])
		if !ok {
			return nil, UnsupportedError("4-component sampling factors")
		}
	}
	img := image.NewCMYK(rect)
	w, h := rect.Dx(), rect.Dy()
	sample := func(i, x, y int) uint8 {
		c := &d.comp[i]
		return c.plane[(y/rv[i])*c.bw*c.ss+x/rh[i]]
	}
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for x := range w {
			p := row[4*x : 4*x+4]
			c0, c1, c2, k := sample(0, x, y), sample(1, x, y), sample(2, x, y), sample(3, x, y)
			if d.adobeXform != 0 {
				c0, c1, c2 = color.YCbCrToRGB(c0, c1, c2)
				p[0], p[1], p[2], p[3] = c0, c1, c2, 255-k
				continue
			}
			p[0], p[1], p[2], p[3] = 255-c0, 255-c1, 255-c2, 255-k
		}
	}
	return img, nil
}
