//go:build !purego

package gemm

import (
	"math"
	"testing"

	"golang.org/x/sys/cpu"
)

// TestNEONChosen checks that an arm64 CPU with ASIMD (every arm64 Linux
// machine) gets the NEON kernel by default, and that Use can switch.
func TestNEONChosen(t *testing.T) {
	if !cpu.ARM64.HasASIMD {
		t.Fatal("cpu.ARM64.HasASIMD is false: no arm64 Linux CPU lacks it")
	}
	if got := Kernel(); got != "neon" {
		t.Fatalf("Kernel() = %q, want neon", got)
	}
	defer Use(Kernel())
	for _, name := range []string{"generic", "neon"} {
		if err := Use(name); err != nil || Kernel() != name {
			t.Errorf("Use(%q): err %v, Kernel() = %q", name, err, Kernel())
		}
	}
	if err := Use("avx512"); err == nil {
		t.Error("Use(avx512) succeeded on arm64")
	}
}

// TestCopyPanels12 checks the assembly copy against an element loop, with
// guard bands around every panel row it must not touch.
func TestCopyPanels12(t *testing.T) {
	for _, panels := range []int{1, 2, 3, 7} {
		for _, stride := range []int{12, 13, 48, 12 * 256} {
			src := make([]float32, panels*12+1)
			for i := range src {
				src[i] = float32(i + 1)
			}
			dst := make([]float32, (panels-1)*stride+12+guard)
			for i := range dst {
				dst[i] = sentinel
			}
			copyB12(dst, src[:panels*12], panels, stride)
			for i, got := range dst {
				q, j := i/stride, i%stride
				want := sentinel
				if q < panels && j < 12 {
					want = src[q*12+j]
				}
				if math.Float32bits(got) != math.Float32bits(want) {
					t.Fatalf("panels=%d stride=%d: dst[%d] = %v, want %v", panels, stride, i, got, want)
				}
			}
		}
	}
}
