//! One activity task: the export its type names, called through the host's
//! memoizing path with its payloads as JSON arguments; heartbeats while it
//! runs; stopped by cancellation (Temporal's core also cancels an attempt
//! that outlives its start-to-close or heartbeat timeout).

use std::sync::Arc;
use std::time::Duration;

use activity_host::Val;
use serde_json::Value as Json;
use temporalio_common::protos::coresdk::ActivityHeartbeat;
use temporalio_common::protos::coresdk::activity_result::ActivityExecutionResult;
use temporalio_common::protos::coresdk::activity_task::Start;
use temporalio_sdk_core::Worker;
use tokio::sync::oneshot;

use activity_host::{CallOptions, Host, HostError, to_json};

use super::failures::{Kind, failure};
use super::payloads;
use super::status::Stop;

/// How often a running activity heartbeats (Temporal's core sends them on,
/// throttled to the activity's heartbeat timeout). Heartbeats also carry
/// cancellation back: an activity that never heartbeats is never told.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// Runs one started activity until it completes, fails or is stopped (a
/// message on `stopped`: Temporal cancelled it, or the worker's shutdown
/// grace ran out), and returns what to tell Temporal. Dropping the call
/// stops the guest at its next epoch tick.
pub async fn run(
    host: &Arc<Host>,
    worker: &Worker,
    task_token: &[u8],
    start: &Start,
    stopped: oneshot::Receiver<Stop>,
) -> ActivityExecutionResult {
    let call = execute(host, start);
    tokio::pin!(call);
    tokio::pin!(stopped);
    let beat_every = heartbeat_interval(start);
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + beat_every, beat_every);
    loop {
        tokio::select! {
            result = &mut call => return result,
            _ = beat.tick() => worker.record_activity_heartbeat(ActivityHeartbeat {
                task_token: task_token.to_vec(),
                details: Vec::new(),
            }),
            Ok(stop) = &mut stopped => return stopped_result(stop),
        }
    }
}

/// What to tell Temporal about an activity stopped before it ended.
fn stopped_result(stop: Stop) -> ActivityExecutionResult {
    match stop {
        Stop::Cancelled(reason) => {
            tracing::info!(%reason, "activity cancelled: guest stopped, nothing cached");
            ActivityExecutionResult::cancel_from_details(None)
        }
        Stop::ShutDown(grace) => {
            let message = format!(
                "the worker shut down: the activity still ran after its {} grace; \
                 guest stopped, nothing cached",
                humantime::format_duration(grace)
            );
            tracing::warn!("{message}");
            ActivityExecutionResult::fail(failure(Kind::WorkerShutdown, message, None))
        }
    }
}

/// Resolves, decodes and calls; maps the outcome to a Temporal result.
async fn execute(host: &Host, start: &Start) -> ActivityExecutionResult {
    match call(host, start).await {
        Ok(Some(Val::Result(Err(error)))) => {
            let details = error.as_deref().map_or(Json::Null, to_json);
            let message = format!("{} returned an error: {details}", start.activity_type);
            tracing::warn!(activity = start.activity_type, %details, "activity returned result::err");
            ActivityExecutionResult::fail(failure(Kind::GuestError, message, Some(&details)))
        }
        Ok(Some(Val::Result(Ok(value)))) => ActivityExecutionResult::ok(
            value
                .as_deref()
                .map_or_else(payloads::null, |v| payloads::json(&to_json(v))),
        ),
        Ok(Some(value)) => ActivityExecutionResult::ok(payloads::json(&to_json(&value))),
        Ok(None) => ActivityExecutionResult::ok(payloads::null()),
        Err((kind, message)) => {
            tracing::warn!(activity = start.activity_type, kind = kind.as_str(), %message, "activity failed");
            ActivityExecutionResult::fail(failure(kind, message, None))
        }
    }
}

/// The function's result (`None` for a function without one), or why the
/// call failed.
/// A call that fails before it runs is counted and logged by the host like
/// every other call.
async fn call(host: &Host, start: &Start) -> Result<Option<Val>, (Kind, String)> {
    let name = &start.activity_type;
    let export = host
        .find_export(name)
        .inspect_err(|error| host.reject_unrouted(None, name, error))
        .map_err(failed)?;
    let args = payloads::arguments(&start.input)
        .map_err(|error| HostError::Arguments {
            text: format!("the payloads of {name}"),
            message: error.to_string(),
        })
        .and_then(|json| export.json_args(&json))
        .inspect_err(|error| host.reject(&export, error))
        .map_err(failed)?;
    let report = host
        .call_export(&export, &args, CallOptions::default())
        .await
        .map_err(failed)?;
    Ok(report.into_results().into_iter().next())
}

fn failed(error: HostError) -> (Kind, String) {
    (Kind::of(&error), error.to_string())
}

/// Every second, or twice per heartbeat timeout when that is shorter (but
/// not more often than every millisecond).
fn heartbeat_interval(start: &Start) -> Duration {
    start
        .heartbeat_timeout
        .and_then(|d| Duration::try_from(d).ok())
        .filter(|d| !d.is_zero())
        .map_or(HEARTBEAT_EVERY, |t| HEARTBEAT_EVERY.min(t / 2))
        .max(Duration::from_millis(1))
}
