package imageprep

// gifPalette returns the color table (packed RGB) that applies to the first
// frame of a GIF: its local table, else the global one; nil if the data is
// not understood. image/gif replaces the transparent entry with zero, while
// PIL's convert("RGB") keeps the stored color, so the stored table is used.
func gifPalette(data []byte) []byte {
	if len(data) < 13 {
		return nil
	}
	var global []byte
	i := 13
	if flags := data[10]; flags&0x80 != 0 {
		n := 3 << (flags&7 + 1)
		if i+n > len(data) {
			return nil
		}
		global = data[i : i+n]
		i += n
	}
	for i < len(data) {
		switch data[i] {
		case 0x21: // extension: label, then sub-blocks up to a zero length
			i += 2
			for i < len(data) && data[i] != 0 {
				i += int(data[i]) + 1
			}
			i++
		case 0x2C: // image descriptor
			if i+10 > len(data) {
				return nil
			}
			if flags := data[i+9]; flags&0x80 != 0 {
				n := 3 << (flags&7 + 1)
				if i+10+n > len(data) {
					return nil
				}
				return data[i+10 : i+10+n]
			}
			return global
		default:
			return nil
		}
	}
	return nil
}
