package jpeg

import (
	"os/exec"
	"testing"

	"github.com/mlserve/mlserve/internal/jpeg/jpegtest"
)

// corpusCase is one test JPEG.
type corpusCase struct {
	name string
	data []byte
}

// corpus is jpegtest.Corpus.
func corpus(tb testing.TB) []corpusCase {
	tb.Helper()
	var cs []corpusCase
	for _, c := range jpegtest.Corpus(tb) {
		cs = append(cs, corpusCase{c.Name, c.Data})
	}
	return cs
}

var (
	needTool      = jpegtest.NeedTool
	photo         = jpegtest.Photo
	cjpeg         = jpegtest.Cjpeg
	djpeg         = jpegtest.Djpeg
	fixtureImages = jpegtest.FixtureImages
	photo12MP     = jpegtest.Photo12MP
)

var lookPath = exec.LookPath
