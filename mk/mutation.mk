# Mutation testing with gremlins (issue 20): each mutant of a package's code
# must make that package's tests fail. Not part of `make test` (about half an
# hour on 2 cores); run it before and after changing a package's tests.
#
# gremlins tests every mutant in a temporary copy of the module, where
# ../shared/fixtures does not exist: MLSERVE_TEST_FIXTURES points the tests at
# it. -count=1 keeps the coverage run (whose time sets each mutant's
# timeout) out of the test cache, and -vet=off saves each mutant a vet of the
# package (about half of its build on a loaded machine). The JPEG-only comparisons (fast DCT-scaled
# path against the full decode, 20 s of the 22 s of imageprep's suite) are
# skipped, and the JPEG path's files left out (MUTATION_EXCLUDE, a regexp of
# paths relative to the package): jpegfast.go, and rgb.go, the YCbCr
# conversions and chroma upsampling that the JPEG work is rewriting to
# libjpeg-turbo's arithmetic (300 of imageprep's 760 mutants, which would
# double the run).

GREMLINS_VERSION ?= v0.6.0
GREMLINS         ?= $(shell go env GOPATH)/bin/gremlins
MUTATION_PKGS    ?= httpapi batch imageprep
MUTATION_WORKERS ?= 1
MUTATION_OUT     ?= .cache/mutation
# Each mutant may run this many times the coverage run's time (which has no
# compile of a changed package in it, and a loaded machine slows a run 2-3x);
# past it the mutant counts as timed out, neither killed nor lived.
MUTATION_TIMEOUT_COEFFICIENT ?= 5
MUTATION_FIXTURES ?= $(abspath ../shared/fixtures)
# Statuses printed per mutant (gremlins -S): l lived, t timed out, k killed.
MUTATION_STATUSES ?= lt

MUTATION_EXCLUDE ?= ^(jpegfast|rgb)\.go$$
MUTATION_SKIP := ^(TestTop1FastEqualsExact|TestJPEGFastMatchesExact)$$

$(GREMLINS):
	go install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION)

.PHONY: mutation
mutation: $(GREMLINS) ## mutation testing (gremlins) of imageprep, httpapi and batch: efficacy per package
	@mkdir -p $(MUTATION_OUT)
	@set -e; for p in $(MUTATION_PKGS); do \
		echo "== internal/$$p"; \
		MLSERVE_TEST_FIXTURES=$(MUTATION_FIXTURES) \
		GOFLAGS='-count=1 -vet=off -skip=$(MUTATION_SKIP)' \
		nice $(GREMLINS) unleash \
			--workers $(MUTATION_WORKERS) --output-statuses $(MUTATION_STATUSES) \
			--timeout-coefficient $(MUTATION_TIMEOUT_COEFFICIENT) \
			--exclude-files '$(MUTATION_EXCLUDE)' \
			--output $(MUTATION_OUT)/$$p.json \
			$(CURDIR)/internal/$$p; \
	done
