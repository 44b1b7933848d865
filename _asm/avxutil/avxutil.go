// Package avxutil holds the tail masks the avo generators of _asm share:
// a row's last vector of fewer than 8 (ymm) or 16 (zmm) floats.
package avxutil

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

var tables = map[string]Mem{}

// table is the generated file's symbol name: 8 all-ones int32 lanes then
// 8 zero lanes, emitted once; the 8 lanes from 8-r on are the mask of r.
func table(name string) Mem {
	if t, ok := tables[name]; ok {
		return t
	}
	t := GLOBL(name, RODATA|NOPTR)
	for i := range 16 {
		v := uint32(0)
		if i < 8 {
			v = 0xffffffff
		}
		DATA(4*i, U32(v))
	}
	tables[name] = t
	return t
}

// MaskY sets mask (a ymm register) to lanes i < n for the n (0 to 8) in
// register n, through the table name; idx and base are scratch (idx may be
// n, which it then overwrites).
func MaskY(name string, n, idx, base Register, mask VecPhysical) {
	if idx == n {
		NEGQ(idx)
		ADDQ(U32(8), idx)
	} else {
		MOVQ(U32(8), idx)
		SUBQ(n, idx)
	}
	LEAQ(table(name), base)
	VMOVDQU(Mem{Base: base, Index: idx, Scale: 4}, mask)
}

// MaskK sets k to the low n bits for the n (0 to 16) in the 32-bit
// register n; scratch is a 32-bit scratch register.
func MaskK(n, scratch Register, k Register) {
	MOVL(U32(0xffff), scratch)
	BZHIL(n, scratch, scratch)
	KMOVW(scratch, k)
}
