package infer

import "github.com/mlserve/mlserve/internal/imageprep"

// DecodeCost estimates the bytes Prepare holds at once for data, from its
// header (imageprep.DecodeCost with this model's preprocessing): what
// decodes are admitted against a memory budget with.
func (c *Classifier) DecodeCost(data []byte) (int64, error) {
	return imageprep.DecodeCost(data, c.pre)
}
