package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Batch is a local AWS Batch with one job queue and one job definition.
// Jobs run one at a time as `Exec <command>` processes.
type Batch struct {
	Region, Account string
	Queue           string   // job queue name
	Definition      string   // job definition name (revision 1)
	Command         []string // the definition's command, with Ref::name placeholders
	Parameters      map[string]string
	Attempts        int           // the definition's retry attempts (default 1)
	EvaluateOnExit  []ExitRule    // the definition's retry rules
	Exec            string        // the program the container's entrypoint runs (mlserve)
	Env             []string      // base environment of every job (default os.Environ())
	Timeout         time.Duration // per attempt (default 10m)
	Log             *slog.Logger

	once   sync.Once
	work   chan *Job
	mu     sync.Mutex
	jobs   []*Job
	seq    int
	faults Faults
	calls  int // SubmitJob calls, refused ones included
}

// ExitRule is one evaluateOnExit entry.
type ExitRule struct {
	OnExitCode     string `json:"onExitCode,omitempty"`
	OnStatusReason string `json:"onStatusReason,omitempty"`
	OnReason       string `json:"onReason,omitempty"`
	Action         string `json:"action"`
}

// Job is a submitted job as the stand-in recorded it.
type Job struct {
	ID         string            `json:"jobId"`
	Name       string            `json:"jobName"`
	ARN        string            `json:"jobArn"`
	Queue      string            `json:"jobQueue"`
	Definition string            `json:"jobDefinition"`
	Command    []string          `json:"command"`
	Env        map[string]string `json:"environment,omitempty"`
	ArraySize  int               `json:"arraySize,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	Attempts   int               `json:"attempts"`
	Rules      []ExitRule        `json:"evaluateOnExit,omitempty"`
	Status     string            `json:"status"` // SUBMITTED, RUNNING, SUCCEEDED, FAILED
	Reason     string            `json:"statusReason,omitempty"`
	// Runs are the attempts of every child, in order.
	Runs      []Run     `json:"runs"`
	CreatedAt time.Time `json:"createdAt"`
	StoppedAt time.Time `json:"stoppedAt,omitzero"`
}

// Run is one attempt of one job or array child.
type Run struct {
	Index    int    `json:"index"` // array index, -1 for a plain job
	Attempt  int    `json:"attempt"`
	ExitCode int    `json:"exitCode"`
	Output   string `json:"output,omitempty"` // the tail of stderr
}

func (b *Batch) init() {
	b.once.Do(func() {
		b.work = make(chan *Job, 1024)
		if b.Log == nil {
			b.Log = slog.Default()
		}
		if b.Attempts <= 0 {
			b.Attempts = 1
		}
		if b.Env == nil {
			b.Env = os.Environ()
		}
		if b.Timeout <= 0 {
			b.Timeout = 10 * time.Minute
		}
	})
}

func (b *Batch) arn(kind, name string) string {
	return fmt.Sprintf("arn:aws:batch:%s:%s:%s/%s", b.Region, b.Account, kind, name)
}

// QueueARN and DefinitionARN are what a deployment hands the submitter.
func (b *Batch) QueueARN() string      { return b.arn("job-queue", b.Queue) }
func (b *Batch) DefinitionARN() string { return b.arn("job-definition", b.Definition+":1") }

// Handler serves the AWS Batch API subset and GET /local/jobs.
func (b *Batch) Handler() http.Handler {
	b.init()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/submitjob", b.submitJob)
	mux.HandleFunc("POST /v1/describejobs", b.describeJobs)
	mux.HandleFunc("GET /local/jobs", func(w http.ResponseWriter, _ *http.Request) {
		b.mu.Lock()
		calls := b.calls
		b.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"jobs": b.Jobs(), "submit_calls": calls})
	})
	mux.HandleFunc("POST /local/faults", b.serveFaults)
	return mux
}

// clientError answers like AWS Batch: 400 and the error type in a header.
func clientError(w http.ResponseWriter, format string, args ...any) {
	w.Header().Set("X-Amzn-ErrorType", "ClientException")
	writeJSON(w, http.StatusBadRequest, map[string]string{"message": fmt.Sprintf(format, args...)})
}

type keyValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type submitJobInput struct {
	JobName            string            `json:"jobName"`
	JobQueue           string            `json:"jobQueue"`
	JobDefinition      string            `json:"jobDefinition"`
	Parameters         map[string]string `json:"parameters"`
	ContainerOverrides *struct {
		Command     []string   `json:"command"`
		Environment []keyValue `json:"environment"`
	} `json:"containerOverrides"`
	ArrayProperties *struct {
		Size int `json:"size"`
	} `json:"arrayProperties"`
	RetryStrategy *struct {
		Attempts       int        `json:"attempts"`
		EvaluateOnExit []ExitRule `json:"evaluateOnExit"`
	} `json:"retryStrategy"`
	Tags map[string]string `json:"tags"`
}

var jobNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

func (b *Batch) submitJob(w http.ResponseWriter, r *http.Request) {
	if b.refuse(w) {
		return
	}
	var in submitJobInput
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		clientError(w, "SubmitJob: %v", err)
		return
	}
	switch {
	case !jobNameRE.MatchString(in.JobName):
		clientError(w, "jobName %q: up to 128 letters, digits, hyphens and underscores", in.JobName)
		return
	case in.JobQueue != b.Queue && in.JobQueue != b.QueueARN():
		clientError(w, "job queue %q does not exist", in.JobQueue)
		return
	case in.JobDefinition != b.Definition && in.JobDefinition != b.Definition+":1" && in.JobDefinition != b.DefinitionARN():
		clientError(w, "job definition %q does not exist", in.JobDefinition)
		return
	case in.ArrayProperties != nil && (in.ArrayProperties.Size < 2 || in.ArrayProperties.Size > 10000):
		clientError(w, "array size %d: want 2..10000", in.ArrayProperties.Size)
		return
	}
	params := map[string]string{}
	for k, v := range b.Parameters {
		params[k] = v
	}
	for k, v := range in.Parameters {
		params[k] = v
	}
	cmd := b.Command
	env := map[string]string{}
	if o := in.ContainerOverrides; o != nil {
		if len(o.Command) > 0 {
			cmd = o.Command
		}
		for _, kv := range o.Environment {
			env[kv.Name] = kv.Value
		}
	}
	cmd = substitute(cmd, params)
	b.init()
	b.mu.Lock()
	b.seq++
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", b.seq)
	job := &Job{
		ID: id, Name: in.JobName, ARN: b.arn("job", id),
		Queue: in.JobQueue, Definition: in.JobDefinition,
		Command: cmd, Env: env, Tags: in.Tags,
		Attempts: b.Attempts, Rules: b.EvaluateOnExit,
		Status: "SUBMITTED", CreatedAt: time.Now().UTC(),
	}
	if in.ArrayProperties != nil {
		job.ArraySize = in.ArrayProperties.Size
	}
	if rs := in.RetryStrategy; rs != nil {
		if rs.Attempts > 0 {
			job.Attempts = rs.Attempts
		}
		if len(rs.EvaluateOnExit) > 0 {
			job.Rules = rs.EvaluateOnExit
		}
	}
	b.jobs = append(b.jobs, job)
	b.mu.Unlock()
	b.work <- job
	b.Log.InfoContext(r.Context(), "SubmitJob", "job_id", id, "job_name", job.Name, "command", strings.Join(cmd, " "), "array_size", job.ArraySize)
	writeJSON(w, http.StatusOK, map[string]string{"jobArn": job.ARN, "jobName": job.Name, "jobId": job.ID})
}

// substitute replaces Ref::name arguments with parameter values, as Batch
// does for the command of a job definition.
func substitute(cmd []string, params map[string]string) []string {
	out := make([]string, len(cmd))
	for i, a := range cmd {
		if name, ok := strings.CutPrefix(a, "Ref::"); ok {
			if v, ok := params[name]; ok {
				a = v
			}
		}
		out[i] = a
	}
	return out
}

func (b *Batch) describeJobs(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Jobs []string `json:"jobs"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		clientError(w, "DescribeJobs: %v", err)
		return
	}
	var out []map[string]any
	for _, j := range b.Jobs() {
		for _, id := range in.Jobs {
			if id == j.ID || id == j.ARN {
				out = append(out, map[string]any{
					"jobId": j.ID, "jobName": j.Name, "jobArn": j.ARN, "jobQueue": j.Queue,
					"jobDefinition": j.Definition, "status": j.Status, "statusReason": j.Reason,
					"createdAt": j.CreatedAt.UnixMilli(),
				})
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": out})
}

// Jobs returns a snapshot of every submitted job.
func (b *Batch) Jobs() []Job {
	b.init()
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Job, len(b.jobs))
	for i, j := range b.jobs {
		out[i] = *j
		out[i].Runs = append([]Run(nil), j.Runs...)
	}
	return out
}

// Run executes submitted jobs one at a time until ctx is done.
func (b *Batch) Run(ctx context.Context) {
	b.init()
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-b.work:
			b.runJob(ctx, job)
		}
	}
}

func (b *Batch) setStatus(job *Job, status, reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	job.Status, job.Reason = status, reason
	if status == "SUCCEEDED" || status == "FAILED" {
		job.StoppedAt = time.Now().UTC()
	}
}

func (b *Batch) runJob(ctx context.Context, job *Job) {
	b.setStatus(job, "RUNNING", "")
	indexes := []int{-1}
	if job.ArraySize > 0 {
		indexes = indexes[:0]
		for i := range job.ArraySize {
			indexes = append(indexes, i)
		}
	}
	failed := 0
	for _, idx := range indexes {
		if !b.runChild(ctx, job, idx) {
			failed++
		}
	}
	if failed > 0 {
		b.setStatus(job, "FAILED", fmt.Sprintf("%d of %d children failed", failed, len(indexes)))
		return
	}
	b.setStatus(job, "SUCCEEDED", "")
}

// runChild runs one job or array child through its attempts; it reports
// whether an attempt succeeded.
func (b *Batch) runChild(ctx context.Context, job *Job, index int) bool {
	for attempt := 1; attempt <= job.Attempts; attempt++ {
		code, output := b.exec(ctx, job, index, attempt)
		b.mu.Lock()
		job.Runs = append(job.Runs, Run{Index: index, Attempt: attempt, ExitCode: code, Output: output})
		b.mu.Unlock()
		b.Log.InfoContext(ctx, "job attempt finished", "job_id", job.ID, "index", index, "attempt", attempt, "exit_code", code)
		if code == 0 {
			return true
		}
		if ruleAction(job.Rules, code) == "EXIT" || ctx.Err() != nil {
			return false
		}
	}
	return false
}

// ruleAction returns the action of the first rule matching an exit code;
// no match means RETRY, as in AWS Batch.
func ruleAction(rules []ExitRule, code int) string {
	for _, r := range rules {
		if r.OnExitCode == "" {
			continue // status reasons never match a local process exit
		}
		if ok, _ := path.Match(r.OnExitCode, strconv.Itoa(code)); ok {
			return strings.ToUpper(r.Action)
		}
	}
	return "RETRY"
}

func (b *Batch) exec(ctx context.Context, job *Job, index, attempt int) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, b.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.Exec, job.Command...)
	cmd.Env = append([]string(nil), b.Env...)
	for k, v := range job.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env,
		"AWS_BATCH_JOB_ID="+job.ID,
		"AWS_BATCH_JQ_NAME="+b.Queue,
		"AWS_BATCH_JOB_ATTEMPT="+strconv.Itoa(attempt),
	)
	if index >= 0 {
		cmd.Env = append(cmd.Env, "AWS_BATCH_JOB_ARRAY_INDEX="+strconv.Itoa(index), "AWS_BATCH_JOB_ARRAY_SIZE="+strconv.Itoa(job.ArraySize))
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	b.mu.Lock()
	kill := b.faults.KillAfterMS > 0 && b.faults.KillIndex == index && attempt == 1 && index >= 0
	after := time.Duration(b.faults.KillAfterMS) * time.Millisecond
	b.mu.Unlock()
	if kill {
		timer := time.AfterFunc(after, func() {
			if cmd.Process != nil {
				b.Log.Info("injected fault: SIGKILL array child", "job_id", job.ID, "index", index)
				cmd.Process.Kill()
			}
		})
		defer timer.Stop()
	}
	cmd.WaitDelay = 30 * time.Second
	var out tail
	cmd.Stdout = os.Stderr
	cmd.Stderr = io.MultiWriter(os.Stderr, &out)
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode(), out.String()
	default:
		return 255, out.String() + "\n" + err.Error()
	}
}

// tail keeps the last 4 KiB written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
