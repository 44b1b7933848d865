package gemm

import "bytes"

// schedWait parses the second field (run-queue wait, ns) of a schedstat
// line: "<on-CPU ns> <wait ns> <timeslices>\n".
func schedWait(b []byte) (int64, bool) {
	field, v, digits := 0, int64(0), 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if field == 1 {
				v = v*10 + int64(c-'0')
				digits++
			}
		case c == ' ' || c == '\n':
			if field == 1 {
				return v, digits > 0
			}
			field++
		default:
			return 0, false
		}
	}
	return 0, false
}

// psiTotal parses the total (µs) of the first line of a PSI file:
// "some avg10=0.00 avg60=0.00 avg300=0.00 total=<µs>".
func psiTotal(b []byte) (int64, bool) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	i := bytes.Index(b, []byte("total="))
	if !bytes.HasPrefix(b, []byte("some ")) || i < 0 {
		return 0, false
	}
	v, digits := int64(0), 0
	for _, c := range b[i+len("total="):] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
		digits++
	}
	return v, digits > 0
}
