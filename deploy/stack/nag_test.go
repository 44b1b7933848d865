package stack

import (
	"slices"
	"testing"
)

// TestNag synthesizes every variant with the AwsSolutions pack: no
// finding may be left unsuppressed, and the report must say so too.
func TestNag(t *testing.T) {
	for _, name := range slices.Sorted(mapsKeys(variantsAny())) {
		t.Run(name, func(t *testing.T) {
			s := synth(t, name)
			for _, f := range s.findings {
				t.Errorf("unsuppressed: %s", f)
			}
			if len(s.report) < 2 {
				t.Fatalf("nag report has %d rows", len(s.report))
			}
			head := s.report[0]
			col := slices.Index(head, "Compliance")
			if col < 0 {
				t.Fatalf("nag report header %v has no Compliance column", head)
			}
			counts := map[string]int{}
			for _, row := range s.report[1:] {
				counts[row[col]]++
				if row[col] == "Non-Compliant" {
					t.Errorf("non-compliant: %v", row)
				}
			}
			t.Logf("report: %v", counts)
			for _, row := range s.report[1:] {
				if row[col] == "Suppressed" {
					t.Logf("%v", row)
				}
			}
		})
	}
}

func variantsAny() map[string]any {
	m := map[string]any{}
	for k, v := range variants {
		m[k] = v
	}
	return m
}
