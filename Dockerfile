# mlserve: one image for `docker run -p 8080:8080 IMAGE serve`, AWS Lambda
# (`lambda`: aws-lambda-go is its own runtime client) and AWS Batch (`batch`).
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t mlserve .
#   docker buildx build --platform linux/arm64 -t mlserve:arm64 .
#
# Stages: build (static binary, cross-compiled on the build machine for
# TARGETOS/TARGETARCH), model (download + sha256 check), rie (the Lambda
# Runtime Interface Emulator, built with go install), runtime (distroless,
# the default target), lambda-rie (runtime + the emulator, for
# docker-compose.yml only). `make image-test` builds and runs all of it.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags "-s -w -X github.com/mlserve/mlserve/internal/cli.Version=${VERSION}" -o /out/mlserve ./cmd/mlserve

# The default model, verified: a wrong or truncated download fails the build.
# Override MODEL_URL to use a mirror; the defaults are models/manifest.json's.
# The file is the same on every platform, so this runs on the build machine.
FROM --platform=$BUILDPLATFORM golang:1.26 AS model
ARG MODEL_URL=https://github.com/onnx/models/raw/main/validated/vision/classification/resnet/model/resnet50-v1-12.onnx
ARG MODEL_SHA256=ab65bdc02c5b3123eb3cdf6dac01742438517d8635d4f233913b2be1c70db3b6
COPY scripts/fetch-model.sh /usr/local/bin/fetch-model.sh
RUN fetch-model.sh "${MODEL_URL}" "${MODEL_SHA256}" /models/resnet50-v1-12.onnx

# The Lambda Runtime Interface Emulator from the Go module proxy, at the
# version CI tests with (.ci/run), static and for the target platform.
# go install puts a cross-compiled binary under /go/bin/<os>_<arch>/.
FROM --platform=$BUILDPLATFORM golang:1.26 AS rie
ARG RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go install -trimpath -ldflags "-s -w" github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@${RIE_VERSION} && mkdir -p /out && cp "$(find /go/bin -type f -name aws-lambda-rie)" /out/aws-lambda-rie

# distroless static: CA certificates, tzdata, /etc/passwd with nonroot (65532).
FROM gcr.io/distroless/static-debian12:nonroot AS runtime
ARG VERSION=dev
LABEL org.opencontainers.image.title="mlserve" \
      org.opencontainers.image.description="Image classification with ResNet-50: CLI, HTTP server, AWS Lambda and AWS Batch" \
      org.opencontainers.image.source="https://github.com/mlserve/mlserve" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=model /models/resnet50-v1-12.onnx /models/resnet50-v1-12.onnx
COPY --from=build /out/mlserve /mlserve
# Lambda's file system is read-only except /tmp.
ENV MLSERVE_MODEL=/models/resnet50-v1-12.onnx \
    MLSERVE_CACHE_DIR=/tmp/mlserve \
    MLSERVE_ADDR=:8080
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/mlserve"]
CMD ["serve"]

# Local only (docker-compose.yml): `mlserve lambda` behind the Runtime
# Interface Emulator, invoked at :8080/2015-03-31/functions/function/invocations.
FROM runtime AS lambda-rie
COPY --from=rie /out/aws-lambda-rie /usr/local/bin/aws-lambda-rie
ENTRYPOINT ["/usr/local/bin/aws-lambda-rie", "/mlserve"]
CMD ["lambda"]

# The default target is the runtime image.
FROM runtime
