//go:build !unix

package s3io

import "errors"

var syscallENOTDIR = errors.New("not a directory")
