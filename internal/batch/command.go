package batch

// Flags of `mlserve batch` that other code passes on a command line (the
// submitter's job overrides); internal/cli defines them with these names.
const (
	FlagInput    = "input"
	FlagJob      = "job"
	FlagManifest = "manifest"
	FlagOutput   = "output"
)

// JobCommand is the command line of an AWS Batch job that runs `mlserve
// batch` over a manifest (the container's entrypoint is mlserve). input,
// when not "", is the prefix outputs are named relative to; "" lets the job
// pick the manifest's common folder.
func JobCommand(manifest, input, output string) []string {
	cmd := []string{"batch", "--" + FlagManifest, manifest}
	if input != "" {
		cmd = append(cmd, "--"+FlagInput, input)
	}
	return append(cmd, "--"+FlagOutput, output)
}

// PrefixCommand is the command line of a job that lists and classifies
// everything under the input prefix.
func PrefixCommand(input, output string) []string {
	return []string{"batch", "--" + FlagInput, input, "--" + FlagOutput, output}
}
