package httpapi

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/api"
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
