# The container image (issue 15): `make image` builds it with docker where a
# Docker engine answers and with buildah otherwise; `make image-test` builds
# the Dockerfile unchanged with buildah from stand-in base images made here
# (scripts/image/bases.sh, cached in $(IMAGE_CACHE)) and runs every mode in it.

IMAGE        ?= mlserve:local
IMAGE_TARGET ?= runtime
IMAGE_CACHE  ?= .cache/image
IMAGE_ARGS   ?=

.PHONY: image
image: ## build the container image IMAGE (default mlserve:local; docker if an engine answers, else buildah; IMAGE_TARGET=lambda-rie for the emulator image)
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
		echo "docker build"; \
		docker build --build-arg VERSION=$(VERSION) --target $(IMAGE_TARGET) -t $(IMAGE) $(IMAGE_ARGS) .; \
	elif command -v buildah >/dev/null 2>&1; then \
		echo "buildah bud (no Docker engine answers)"; \
		buildah bud --isolation chroot --layers --build-arg VERSION=$(VERSION) \
			--build-arg TARGETOS=$$(go env GOOS) --build-arg TARGETARCH=$$(go env GOARCH) \
			--target $(IMAGE_TARGET) -t $(IMAGE) $(IMAGE_ARGS) .; \
	else \
		echo "make image: neither a Docker engine nor buildah (apt-get install buildah)" >&2; exit 1; \
	fi

.PHONY: image-bases
image-bases: ## make the stand-in golang:1.26 and distroless base images for buildah (no registry needed; cached)
	scripts/image/bases.sh $(IMAGE_CACHE)

.PHONY: image-test
image-test: image-bases ## build the image with buildah from the stand-in bases, run every mode in it, check its size (root)
	MLSERVE_IMAGE_TEST=1 go test -count=1 -timeout 30m -run '^TestImage$$' -v ./internal/shiptest/

.PHONY: image-clean
image-clean: ## remove the stand-in bases, buildah's untagged layers and .cache/image (the next image-test is cold)
	-buildah rmi docker.io/library/golang:1.26 gcr.io/distroless/static-debian12:nonroot
	buildah rmi --prune
	rm -rf $(IMAGE_CACHE)
