// Command mlserve classifies images with ResNet-50 from the command line, an
// HTTP server, AWS Lambda and AWS Batch.
package main

import (
	"os"

	"github.com/mlserve/mlserve/internal/cli"
)

func main() { os.Exit(cli.Main()) }
