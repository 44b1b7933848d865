package infer

import (
	"io"

	"github.com/mlserve/mlserve/internal/imageprep"
)

// PrepareReader is Prepare for a JPEG decoded as it is read from r
// (imageprep.PrepareReader): enter admits the decode at its estimated
// bytes. Errors are imageprep.PrepareReader's.
func (c *Classifier) PrepareReader(r io.Reader, enter func(cost int64) (release func(), err error)) (*Input, error) {
	px := make([]float32, 3*c.pre.Crop*c.pre.Crop)
	info, err := imageprep.PrepareReader(r, c.pre, px, enter)
	if err != nil {
		return nil, err
	}
	return &Input{Pixels: px, Image: info}, nil
}
