package jpeg

import (
	"os/exec"

	"github.com/mlserve/mlserve/internal/jpeg/jpegtest"
)

var (
	corpus        = jpegtest.Corpus
	needTool      = jpegtest.NeedTool
	photo         = jpegtest.Photo
	cjpeg         = jpegtest.Cjpeg
	djpeg         = jpegtest.Djpeg
	fixtureImages = jpegtest.FixtureImages
	photo12MP     = jpegtest.Photo12MP
)

var lookPath = exec.LookPath
