package server

import (
	_ "embed"
	"net/http"
)

// openAPI describes every route; TestOpenAPI keeps it in step with routes.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI) //nolint:errcheck // the client is gone
}
