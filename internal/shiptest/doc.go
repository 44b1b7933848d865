// Package shiptest tests what ships mlserve rather than mlserve itself: the
// Dockerfile (the binary it builds is static and cross-compiles, its model
// stage rejects a wrong file), scripts/fetch-model.sh, docker-compose.yml
// (every service's command is a real mlserve command line, its ports bound
// to 127.0.0.1), the local stack (scripts/local-stack.sh): S3 upload,
// event, Lambda, Batch, results; and, under make image-test
// (MLSERVE_IMAGE_TEST=1, root), the image itself: built with buildah from
// stand-in bases (scripts/image/bases.sh) and every mode and compose
// service run inside it.
package shiptest
