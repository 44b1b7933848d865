// Package shiptest tests what ships mlserve rather than mlserve itself: the
// Dockerfile (the binary it builds is static, its model stage rejects a
// wrong file), scripts/fetch-model.sh, docker-compose.yml (every service's
// command is a real mlserve command line), and the local stack
// (scripts/local-stack.sh): S3 upload, event, Lambda, Batch, results.
package shiptest
