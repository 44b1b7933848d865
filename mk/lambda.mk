# Lambda mode (internal/lambdaadapter, internal/cli/lambda.go).
RIE_VERSION ?= v0.0.0-20261030222936-bef5c4ba774d

.PHONY: tools-lambda
tools-lambda: ## install aws-lambda-rie, the Lambda Runtime Interface Emulator the lambda tests use
	go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

.PHONY: test-lambda
test-lambda: ## test the Lambda handler, and mlserve lambda under aws-lambda-rie (ResNet-50 init included)
	go test -race ./internal/lambdaadapter/...
	go test -run 'Lambda' -v ./internal/cli/

.PHONY: fuzz-lambda
fuzz-lambda: ## fuzz the Lambda event dispatch for 30s
	go test -run '^$$' -fuzz FuzzInvoke -fuzztime 30s ./internal/lambdaadapter/
