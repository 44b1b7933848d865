# mlserve: one image for `docker run -p 8080:8080 IMAGE serve`, AWS Lambda
# (`lambda`: aws-lambda-go is its own runtime client) and AWS Batch (`batch`).
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t mlserve .
#
# Stages: build (static binary), model (download + sha256 check), runtime
# (distroless, the default target), lambda-rie (runtime + the Lambda Runtime
# Interface Emulator, for docker-compose.yml only).

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/mlserve/mlserve/internal/cli.Version=${VERSION}" -o /out/mlserve ./cmd/mlserve

# The default model, verified: a wrong or truncated download fails the build.
# Override MODEL_URL to use a mirror; the defaults are models/manifest.json's.
FROM golang:1.26 AS model
ARG MODEL_URL=https://github.com/onnx/models/raw/main/validated/vision/classification/resnet/model/resnet50-v1-12.onnx
ARG MODEL_SHA256=ab65bdc02c5b3123eb3cdf6dac01742438517d8635d4f233913b2be1c70db3b6
COPY scripts/fetch-model.sh /usr/local/bin/fetch-model.sh
RUN fetch-model.sh "${MODEL_URL}" "${MODEL_SHA256}" /models/resnet50-v1-12.onnx

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
COPY --from=public.ecr.aws/lambda/provided:al2023 /usr/local/bin/aws-lambda-rie /usr/local/bin/aws-lambda-rie
ENTRYPOINT ["/usr/local/bin/aws-lambda-rie", "/mlserve"]
CMD ["lambda"]

# The default target is the runtime image.
FROM runtime
