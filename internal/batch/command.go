package batch

// Flags of `mlserve batch` that other code passes on a command line (the
// Lambda submitter's job overrides); internal/cli defines them with these
// names.
const (
	FlagManifest = "manifest"
	FlagOutput   = "output"
)

// JobCommand is the command line of an AWS Batch job that runs `mlserve
// batch` over a manifest (the container's entrypoint is mlserve).
func JobCommand(manifest, output string) []string {
	return []string{"batch", "--" + FlagManifest, manifest, "--" + FlagOutput, output}
}
