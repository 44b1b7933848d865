package gemm

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
