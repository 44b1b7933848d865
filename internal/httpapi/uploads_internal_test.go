package httpapi

import (
	"errors"
	"strings"
	"testing"
)

// FuzzResolve feeds keys and URIs to the upload key check: whatever it
// accepts is under the prefix, in the bucket, and has no dot segment.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"uploads/abc", "uploads/../input/x", "uploads/", "input/x", "s3://bkt/uploads/a", "s3://other/uploads/a", "s3://bkt", "uploads//a", "uploads/./a"} {
		f.Add(s)
	}
	u := (&Uploads{Bucket: "bkt"}).withDefaults()
	f.Fuzz(func(t *testing.T, s string) {
		ref := objectRef{Key: s}
		if strings.HasPrefix(s, "s3://") {
			ref = objectRef{S3URI: s}
		}
		key, err := u.resolve(ref)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Code != CodeForbiddenKey && e.Code != "bad_request") {
				t.Fatalf("%q: error %v", s, err)
			}
			return
		}
		if !strings.HasPrefix(key, "uploads/") || key == "uploads/" || hasDotSegment(key) || strings.Contains(key, "//") {
			t.Fatalf("%q accepted as %q", s, key)
		}
	})
}
