package batch

import (
	"fmt"
	"strconv"
	"strings"
)

// Threshold is --max-failures: a count ("10") or a percentage of the
// shard's inputs ("2.5%"). The zero value allows no failures.
type Threshold struct {
	N       float64
	Percent bool
}

// ParseThreshold parses "N" or "P%".
func ParseThreshold(s string) (Threshold, error) {
	s = strings.TrimSpace(s)
	t := Threshold{}
	if v, ok := strings.CutSuffix(s, "%"); ok {
		t.Percent = true
		s = strings.TrimSpace(v)
	}
	var err error
	if t.Percent {
		t.N, err = strconv.ParseFloat(s, 64)
		if err == nil && (t.N < 0 || t.N > 100 || t.N != t.N) {
			err = fmt.Errorf("out of range")
		}
	} else {
		var n int
		n, err = strconv.Atoi(s)
		if err == nil && n < 0 {
			err = fmt.Errorf("negative")
		}
		t.N = float64(n)
	}
	if err != nil {
		return Threshold{}, fmt.Errorf("max failures %q: want a count (10) or a percentage (2.5%%)", s)
	}
	return t, nil
}

// Exceeded reports whether failed of total inputs is over the threshold.
func (t Threshold) Exceeded(failed, total int) bool {
	if t.Percent {
		return total > 0 && float64(failed)*100 > t.N*float64(total)
	}
	return float64(failed) > t.N
}

func (t Threshold) String() string {
	if t.Percent {
		return strconv.FormatFloat(t.N, 'g', -1, 64) + "%"
	}
	return strconv.Itoa(int(t.N))
}
