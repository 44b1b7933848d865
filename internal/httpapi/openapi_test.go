package httpapi

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/imageprep"
)

// TestOpenAPIErrorCodes checks that openapi.json is valid and documents
// every whole-request error code api declares, and that every code has a
// status in the one table.
func TestOpenAPIErrorCodes(t *testing.T) {
	var doc struct {
		OpenAPI string `json:"openapi"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json: %v", err)
	}
	src, err := os.ReadFile("../api/api.go")
	if err != nil {
		t.Fatal(err)
	}
	codes := regexp.MustCompile(`Code[A-Za-z]+ += "([a-z_]+)"`).FindAllStringSubmatch(string(src), -1)
	for _, c := range codes {
		if _, ok := statuses[c[1]]; !ok {
			t.Errorf("code %s has no status", c[1])
		}
		if c[1] == api.CodeNotFound || c[1] == api.CodeMethodNotAllowed {
			continue
		}
		if !strings.Contains(string(openAPI), c[1]) {
			t.Errorf("openapi.json does not mention error code %s", c[1])
		}
	}
	if len(codes) < 8 || !slices.ContainsFunc(codes, func(c []string) bool { return c[1] == api.CodeOverloaded }) {
		t.Errorf("found codes %v", codes)
	}
}

// Error messages are in the client's terms: no Go type or package names,
// no code repeated as a prefix.
func TestErrorMessages(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"image": 42}`, `"image" must be a base64 string, got a number`},
		{`{"images": "AA"}`, `"images" must be a list of base64 strings, got a string`},
		{`{"images": [1]}`, `"images" must be a list of base64 strings, got a number`},
		{`[1]`, `the body must be an object`},
		{`"x"`, `the body must be an object`},
	} {
		_, err := parseBody("application/json", strings.NewReader(tc.body), -1, 1<<20, 4)
		var e *Error
		if !errors.As(err, &e) || e.Code != api.CodeBadRequest || !strings.Contains(e.Message, tc.want) {
			t.Errorf("%s: %v, want bad_request with %q", tc.body, err, tc.want)
			continue
		}
		if strings.Contains(e.Message, "httpapi") || strings.Contains(e.Message, "Go ") || strings.Contains(e.Message, "jsonBody") {
			t.Errorf("%s: message %q names Go types", tc.body, e.Message)
		}
	}
	e := toError(&imageprep.Error{Code: imageprep.CodeTooLarge, Err: errors.New("7000x7000 is over the limit")}, 100)
	if e.Message != "image exceeds the limit of 100 pixels: 7000x7000 is over the limit" {
		t.Errorf("too large: %q", e.Message)
	}
	if e := ImageError("not_an_image", "not_an_image: not_an_image: unknown signature"); e.Message != "unknown signature" {
		t.Errorf("ImageError: %q", e.Message)
	}
}
