package imageprep

// JPEGMargin lets the external tests try other reduction margins.
var JPEGMargin = &jpegMargin
