# The local stack: the docker-compose.yml system without Docker, on 127.0.0.1.

VERSITYGW_VERSION := v1.8.0
RIE_VERSION       := v0.0.0-20261030222936-bef5c4ba774d
GOAWS_VERSION     := v0.4.5

.PHONY: ship-tools
ship-tools: ## go install versitygw, aws-lambda-rie and goaws (the local stack and its tests need them)
	go install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)
	go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)
	go install github.com/Admiral-Piett/goaws/app/cmd@$(GOAWS_VERSION)

.PHONY: local-stack
local-stack: ## run S3, SQS, the Lambda submitter, a local AWS Batch and serve on 127.0.0.1 (Ctrl-C stops)
	scripts/local-stack.sh

.PHONY: ship-test
ship-test: ## test the Dockerfile, fetch-model.sh, docker-compose.yml and the local stack end to end
	go test -count=1 ./internal/shiptest/...

.PHONY: bench-bursts
bench-bursts: ## uploads (1, 10, 1,000, 10,000) against windows, SubmitJob calls and task starts on the local stack (MESSAGE_BODY=s3 for S3 notification bodies)
	MESSAGE_BODY=$${MESSAGE_BODY:-compact} MLSERVE_BURSTS=$${MLSERVE_BURSTS:-1,10,1000,10000} go test -count=1 -v -timeout 30m -run TestLocalStackBursts ./internal/shiptest/
