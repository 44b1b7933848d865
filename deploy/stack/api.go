package stack

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

// accessLogFormat is one JSON line per request in the API's access log:
// who called (the IAM principal or the JWT subject), what, and how it went.
const accessLogFormat = `{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",` +
	`"requestTime":"$context.requestTime","routeKey":"$context.routeKey","status":"$context.status",` +
	`"protocol":"$context.protocol","responseLength":"$context.responseLength",` +
	`"latencyMs":"$context.responseLatency","integrationStatus":"$context.integrationStatus",` +
	`"integrationError":"$context.integrationErrorMessage","errorMessage":"$context.error.message",` +
	`"authorizerError":"$context.authorizer.error","iamPrincipal":"$context.identity.userArn",` +
	`"jwtSubject":"$context.authorizer.claims.sub","userAgent":"$context.identity.userAgent"}`

// corsHeaders are the request headers a browser may send: the content
// type, a bearer token, and the SigV4 headers.
var corsHeaders = []string{"content-type", "authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"}

// api puts predict behind POST /predict and POST /uploads on an HTTP API with the chosen
// authorization, throttling on every route and access logs, and returns
// the API's base URL.
func (b *builder) api(predict awslambda.IFunction) string {
	var cors *awsapigatewayv2.CorsPreflightOptions
	if len(b.props.CORSOrigins) > 0 {
		cors = &awsapigatewayv2.CorsPreflightOptions{
			AllowOrigins: jsii.Strings(b.props.CORSOrigins...),
			AllowMethods: &[]awsapigatewayv2.CorsHttpMethod{awsapigatewayv2.CorsHttpMethod_POST, awsapigatewayv2.CorsHttpMethod_OPTIONS},
			AllowHeaders: jsii.Strings(corsHeaders...),
			MaxAge:       awscdk.Duration_Hours(jsii.Number(1)),
		}
	}
	api := awsapigatewayv2.NewHttpApi(b.st, b.str("Api"), &awsapigatewayv2.HttpApiProps{
		Description:        b.str("mlserve: POST an image to /predict, or get an upload URL from POST /uploads"),
		CreateDefaultStage: jsii.Bool(false),
		CorsPreflight:      cors,
	})
	stage := awsapigatewayv2.NewHttpStage(b.st, b.str("ApiStage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    api,
		StageName:  b.str("$default"),
		AutoDeploy: jsii.Bool(true),
		// Applies to every route; over it API Gateway answers 429.
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(b.props.ThrottleRate),
			BurstLimit: jsii.Number(b.props.ThrottleBurst),
		},
	})
	logs := b.logGroup("Api")
	stage.Node().DefaultChild().(awsapigatewayv2.CfnStage).SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: logs.LogGroupArn(),
		Format:         b.str(accessLogFormat),
	})

	// POST /uploads answers a presigned S3 PUT URL under uploads/ for
	// images over Lambda's payload limit: the same function, authorizer
	// and throttling as /predict.
	integration := awsapigatewayv2integrations.NewHttpLambdaIntegration(b.str("PredictIntegration"), predict, nil)
	authorizer := b.authorizer()
	for _, path := range []string{"predict", "uploads"} {
		routes := api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path:        b.str("/" + path),
			Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_POST},
			Integration: integration,
			Authorizer:  authorizer,
		})
		if b.props.Auth == AuthPublic {
			for _, r := range *routes {
				suppress(r, "AwsSolutions-APIG4",
					"auth=public was chosen on purpose at deploy time; throttling and reserved concurrency bound the cost")
			}
		}
		b.out(strings.ToUpper(path[:1])+path[1:]+"InvokeArn", *b.st.FormatArn(&awscdk.ArnComponents{
			Service:      b.str("execute-api"),
			Resource:     api.ApiId(),
			ResourceName: b.str("$default/POST/" + path),
			ArnFormat:    awscdk.ArnFormat_SLASH_RESOURCE_NAME,
		}), "with auth=iam: allow execute-api:Invoke on this ARN to the callers of POST /"+path)
	}
	return *stage.Url()
}

func (b *builder) authorizer() awsapigatewayv2.IHttpRouteAuthorizer {
	switch b.props.Auth {
	case AuthJWT:
		return awsapigatewayv2authorizers.NewHttpJwtAuthorizer(b.str("JwtAuthorizer"), b.str(b.props.JWTIssuer),
			&awsapigatewayv2authorizers.HttpJwtAuthorizerProps{JwtAudience: jsii.Strings(b.props.JWTAudience...)})
	case AuthPublic:
		return awsapigatewayv2.NewHttpNoneAuthorizer()
	default:
		return awsapigatewayv2authorizers.NewHttpIamAuthorizer()
	}
}
