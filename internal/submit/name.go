package submit

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// JobName returns prefix+suffix made into a valid AWS Batch job name: up
// to 128 letters, digits, hyphens and underscores, starting with a letter
// or digit. Other characters become hyphens; the prefix is shortened
// first, so the unique suffix survives.
func JobName(prefix, suffix string) string {
	const maxLen = 128
	clean := func(s string) string {
		b := []byte(s)
		for i, c := range b {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				b[i] = '-'
			}
		}
		return string(b)
	}
	prefix, suffix = clean(prefix), clean(suffix)
	if len(suffix) > maxLen-1 {
		suffix = suffix[len(suffix)-(maxLen-1):]
	}
	if len(prefix)+len(suffix) > maxLen {
		prefix = prefix[:maxLen-len(suffix)]
	}
	name := strings.TrimLeft(prefix+suffix, "-_")
	if name == "" {
		return "mlserve"
	}
	return name
}

// UniqueSuffix is "-<UTC time>-<8 hex digits>", for a job with no request id.
func UniqueSuffix(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
