# deploy/: the CDK app in Go (its own module) and the pinned CDK CLI.
# Synth needs neither AWS credentials nor Docker; deploy needs both.

CDK_ENV := JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_VERSION_CHECK=1
CDK     := cd deploy && $(CDK_ENV) node_modules/.bin/cdk

deploy/node_modules/.bin/cdk: deploy/package.json deploy/package-lock.json
	cd deploy && npm ci --no-audit --no-fund
	touch $@

.PHONY: deploy-test
deploy-test: deploy/node_modules/.bin/cdk ## vet and test the CDK app: template assertions and an offline cdk synth
	cd deploy && go vet . ./stack && $(CDK_ENV) go test -count=1 -timeout 30m . ./stack

.PHONY: cdk-synth
cdk-synth: deploy/node_modules/.bin/cdk ## write the CloudFormation template and the cdk-nag AwsSolutions report to deploy/cdk.out (no AWS account needed)
	$(CDK) synth --quiet
	@echo "cdk-nag AwsSolutions report: $$(ls deploy/cdk.out/AwsSolutions-*-NagReport.csv)"

.PHONY: cdk-deploy
cdk-deploy: deploy/node_modules/.bin/cdk ## deploy the MLServe stack (needs Docker and AWS credentials; cdk bootstrap once)
	$(CDK) deploy

.PHONY: cdk-destroy
cdk-destroy: deploy/node_modules/.bin/cdk ## delete the MLServe stack (the bucket is kept unless -c destroyBucket=true)
	$(CDK) destroy
