package testsupport

import "testing"

func TestTop5Diff(t *testing.T) {
	ref := Reference{Classes: []int{1, 2, 3, 4, 5}, Probabilities: []float64{0.5, 0.2, 0.1995, 0.05, 0.01}}
	tests := []struct {
		name    string
		classes []int
		probs   []float64
		ok      bool
	}{
		{"same", []int{1, 2, 3, 4, 5}, []float64{0.5, 0.2, 0.1995, 0.05, 0.01}, true},
		{"within tolerance", []int{1, 2, 3, 4, 5}, []float64{0.5009, 0.2, 0.1995, 0.05, 0.0109}, true},
		{"near tie swapped", []int{1, 3, 2, 4, 5}, []float64{0.5, 0.1998, 0.1997, 0.05, 0.01}, true},
		{"sixth ties the fifth", []int{1, 2, 3, 4, 9}, []float64{0.5, 0.2, 0.1995, 0.05, 0.0101}, true},
		{"probability off", []int{1, 2, 3, 4, 5}, []float64{0.5, 0.2, 0.1995, 0.0515, 0.01}, false},
		{"top-1 wrong", []int{2, 1, 3, 4, 5}, []float64{0.5, 0.2, 0.1995, 0.05, 0.01}, false},
		{"not a tie", []int{1, 2, 4, 3, 5}, []float64{0.5, 0.2, 0.1995, 0.05, 0.01}, false},
		{"unknown class mid-list", []int{1, 2, 9, 4, 5}, []float64{0.5, 0.2, 0.1995, 0.05, 0.01}, false},
		{"too few", []int{1, 2, 3}, []float64{0.5, 0.2, 0.1995}, false},
	}
	for _, tt := range tests {
		_, err := Top5Diff(tt.classes, tt.probs, ref, Top5Tolerance)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}
