//go:build unix

package s3io

import "syscall"

const syscallENOTDIR = syscall.ENOTDIR
