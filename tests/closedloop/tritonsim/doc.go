// Package tritonsim simulates Triton Inference Server pods behind a
// Kubernetes Service, on a simulated clock, and serves each pod's metrics
// with Triton's own names, types and labels.
//
// # Model
//
// Each pod loads every configured model. A model has instance_group.count
// instances per pod (one GPU per pod); an instance runs one batch at a time
// and a batch of n requests takes Compute.Input(n) + Compute.Infer(n) +
// Compute.Output(n). Without dynamic_batching a request runs alone (Triton's
// default scheduler); with it, a free instance takes up to max_batch_size
// queued requests, waiting up to max_queue_delay for the batch to fill
// (server docs/user_guide/batcher.md, "Delayed Batching"). The queue policy
// (dynamic_batching.default_queue_policy) can bound the queue
// (max_queue_size) and time requests out in it (default_timeout_microseconds
// with timeout_action REJECT). preferred_batch_size, priorities, sequence
// batching, the response cache, rate limiting and GPU contention between
// models are not modelled. An ensemble is a chain of steps that runs on the
// composing models' instances in the same pod.
//
// Requests arrive per a load trace (requests/s over simulated time, sampled
// once per TraceResolution, optional ±noise, Poisson or evenly spaced) and
// each goes to one ready pod, as a Service does through kube-proxy (see
// Routing). Each request is treated as its own connection: kube-proxy
// balances connections, so clients holding a few long-lived connections
// (HTTP keep-alive, gRPC channels) spread worse than modelled.
//
// # What fails, and what Triton counts
//
// Read from triton-inference-server/core (src/infer_request.cc,
// src/dynamic_batch_scheduler.cc, src/scheduler_utils.cc, src/infer_stats.cc,
// src/ensemble_scheduler/ensemble_scheduler.cc) and checked against the
// server's qa/L0_model_queue and qa/L0_metrics tests:
//
//   - Queue full (max_queue_size): PolicyQueue::Enqueue returns UNAVAILABLE
//     "Exceeds maximum queue size" at once and InferenceRequest::Run hands
//     the error back to the frontend (HTTP 503 / gRPC UNAVAILABLE). No
//     UpdateFailure runs on that path, so nv_inference_request_failure does
//     not move and no queue time is added: the client sees the rejection
//     (OutcomeRejected), Triton's metrics do not.
//   - Queue timeout: the dynamic batcher answers "Request timeout expired"
//     through FinishRejectedCancelledRequests with FailureReason::REJECTED:
//     nv_inference_request_failure{reason="REJECTED"} moves, and
//     UpdateFailure adds no queue or request duration to the Prometheus
//     counters (OutcomeTimedOut). Triton finds expired requests when its
//     batcher next scans the queue; here they leave at the deadline.
//   - A failed ensemble request adds 2 to the ensemble's
//     nv_inference_request_failure{reason="OTHER"} (RequestTracker's
//     RespondIfError and then ReportStatisticsWithDuration(success=false);
//     server docs/user_guide/metrics.md, "Failure Count Categories").
//   - A pod that leaves the ready set is terminating. With RemovalDrain
//     (default) it takes no new requests and finishes those it holds, as
//     tritonserver does on SIGTERM for up to --exit-timeout-secs (default 30;
//     server src/command_line_parser.h, src/main.cc StopEndpoints); what is
//     still in flight then is lost (OutcomeDropped), and so is everything at
//     once with RemovalKill (SIGKILL, node loss). A lost request moves no
//     Triton metric: the process is gone, and so are its metrics.
//
// # Time
//
// Nothing sleeps: Sim.Step advances the simulated clock and processes every
// event up to it in order, so results do not depend on the step size and a
// later tier can run the clock at any multiple of real time.
package tritonsim
