package stack

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

func TestHTTPAPI(t *testing.T) {
	s := synth(t, "default")
	predict, _ := s.imageFunction(t, "mlserve predict")
	assert(t, "HTTP API", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Api"), map[string]any{"ProtocolType": "HTTP"})
	})
	assert(t, "POST /predict and POST /uploads only", func() {
		s.tmpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::Route"), jsii.Number(2))
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Route"), map[string]any{"RouteKey": "POST /predict"})
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Route"), map[string]any{"RouteKey": "POST /uploads"})
	})
	assert(t, "one integration for both routes", func() {
		s.tmpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::Integration"), jsii.Number(1))
	})
	assert(t, "integration invokes predict", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Integration"), map[string]any{
			"IntegrationType":      "AWS_PROXY",
			"PayloadFormatVersion": "2.0",
			"IntegrationUri":       map[string]any{"Fn::GetAtt": []any{predict, "Arn"}},
		})
	})
	assert(t, "no Function URL by default", func() {
		s.tmpl.ResourceCountIs(jsii.String("AWS::Lambda::Url"), jsii.Number(0))
	})
	withURL := synth(t, "arm64-jwt")
	assert(t, "Function URL on request, IAM auth", func() {
		withURL.tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Url"), map[string]any{"AuthType": "AWS_IAM"})
		withURL.tmpl.HasOutput(jsii.String("FunctionUrl"), map[string]any{})
	})
	assert(t, "the $default stage: throttled, access logs to a log group with retention", func() {
		s.tmpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::Stage"), jsii.Number(1))
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), map[string]any{
			"StageName":            "$default",
			"AutoDeploy":           true,
			"DefaultRouteSettings": map[string]any{"ThrottlingRateLimit": 10, "ThrottlingBurstLimit": 20},
			"AccessLogSettings": map[string]any{
				"DestinationArn": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^ApiLogs")), "Arn"}},
				"Format":         accessLogFormat,
			},
		})
	})
	assert(t, "no CORS by default", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Api"), map[string]any{"CorsConfiguration": assertions.Match_Absent()})
	})
}

// TestAuth: IAM by default, JWT with its issuer and audience, and public
// only when asked for, the same on both routes.
func TestAuth(t *testing.T) {
	route := func(s *synthed) map[string]any {
		t.Helper()
		routes := s.resources("AWS::ApiGatewayV2::Route")
		if len(routes) != 2 {
			t.Fatalf("routes: got %d, want POST /predict and POST /uploads", len(routes))
		}
		var first map[string]any
		for _, r := range routes {
			if first == nil {
				first = r
				continue
			}
			if r["AuthorizationType"] != first["AuthorizationType"] || jsonString(r["AuthorizerId"]) != jsonString(first["AuthorizerId"]) {
				t.Errorf("routes differ in authorization: %s and %s", jsonString(first), jsonString(r))
			}
		}
		return first
	}
	if got := route(synth(t, "default"))["AuthorizationType"]; got != "AWS_IAM" {
		t.Errorf("default AuthorizationType: got %v, want AWS_IAM", got)
	}
	if got := route(synth(t, "public"))["AuthorizationType"]; got != "NONE" {
		t.Errorf("public AuthorizationType: got %v, want NONE", got)
	}
	jwt := synth(t, "arm64-jwt")
	r := route(jwt)
	if r["AuthorizationType"] != "JWT" || r["AuthorizerId"] == nil {
		t.Errorf("jwt route: got %s", jsonString(r))
	}
	assert(t, "jwt authorizer: issuer and audience", func() {
		jwt.tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Authorizer"), map[string]any{
			"AuthorizerType": "JWT",
			"IdentitySource": []any{"$request.header.Authorization"},
			"JwtConfiguration": map[string]any{
				"Issuer":   "https://issuer.example.com/",
				"Audience": []any{"mlserve", "mlserve-web"},
			},
		})
	})
	assert(t, "corsOrigins: preflight for those origins", func() {
		jwt.tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Api"), map[string]any{
			"CorsConfiguration": map[string]any{
				"AllowOrigins": []any{"https://app.example.com"},
				"AllowMethods": []any{"POST", "OPTIONS"},
				"AllowHeaders": assertions.Match_ArrayWith(&[]any{"content-type", "authorization", "x-amz-date"}),
				"MaxAge":       3600,
			},
		})
	})
	for _, tt := range []struct{ variant, want, not string }{
		{"default", "--aws-sigv4", "Bearer"},
		{"arm64-jwt", `Authorization: Bearer $TOKEN`, "sigv4"},
		{"public", "curl -sS --data-binary @testdata/dog.jpg", "Authorization"},
	} {
		got := jsonString(synth(t, tt.variant).json["Outputs"].(map[string]any)["CurlExample"])
		if !strings.Contains(got, tt.want) || strings.Contains(got, tt.not) {
			t.Errorf("%s CurlExample: got %s, want %q and no %q", tt.variant, got, tt.want, tt.not)
		}
	}
}
