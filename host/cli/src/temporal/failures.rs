//! How a failed activity is reported to Temporal: an application failure
//! whose type says what went wrong, so a workflow's retry policy can tell
//! them apart (`non_retryable_error_types`).
//!
//! | type | when | retried |
//! |---|---|---|
//! | `GuestError` | the function returned `result::err` (the error value is the failure's details) | yes |
//! | `GuestTrap` | the guest trapped, ran out of memory or time, or could not start | yes |
//! | `InvalidArguments` | the payloads do not fit the function's parameters | no |
//! | `ActivityNotFound` | no loaded component exports the activity type | yes (another worker may serve it) |
//! | `AmbiguousActivity` | it matches several exports (of several components, or of one) | no |
//! | `WorkerShutdown` | the worker shut down and its `--shutdown-grace` ran out while the activity ran | yes (on another worker) |
//! | `HostError` | anything else on this worker (such as a panic) | yes |

use serde_json::Value as Json;
use temporalio_common::protos::temporal::api::common::v1::Payloads;
use temporalio_common::protos::temporal::api::failure::v1::{
    ApplicationFailureInfo, Failure, failure::FailureInfo,
};

use activity_host::{CallError, ExportLookupError, HostError};

use super::payloads;

/// What kind of failure, as the failure's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The function returned `result::err`.
    GuestError,
    /// The guest trapped or could not run.
    GuestTrap,
    /// The arguments do not fit the function.
    InvalidArguments,
    /// No export answers to the activity type.
    ActivityNotFound,
    /// Several exports answer to it.
    AmbiguousActivity,
    /// The worker stopped it at shutdown.
    WorkerShutdown,
    /// Anything else.
    HostError,
}

impl Kind {
    /// The failure type a workflow sees.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::GuestError => "GuestError",
            Kind::GuestTrap => "GuestTrap",
            Kind::InvalidArguments => "InvalidArguments",
            Kind::ActivityNotFound => "ActivityNotFound",
            Kind::AmbiguousActivity => "AmbiguousActivity",
            Kind::WorkerShutdown => "WorkerShutdown",
            Kind::HostError => "HostError",
        }
    }

    /// Whether retrying can help.
    fn retryable(self) -> bool {
        !matches!(self, Kind::InvalidArguments | Kind::AmbiguousActivity)
    }

    /// The kind of a host call's error.
    pub fn of(error: &HostError) -> Kind {
        match error {
            HostError::Export(ExportLookupError::Ambiguous { .. })
            | HostError::ExportedBySeveral { .. } => Kind::AmbiguousActivity,
            HostError::UnknownComponent(_)
            | HostError::Export(_)
            | HostError::NotExported { .. } => Kind::ActivityNotFound,
            HostError::Arguments { .. }
            | HostError::Call(CallError::Arguments { .. })
            | HostError::Call(CallError::ArgumentsTooLarge { .. }) => Kind::InvalidArguments,
            HostError::Call(CallError::Guest { .. }) => Kind::GuestTrap,
            _ => Kind::HostError,
        }
    }
}

/// An application failure of `kind` with `message`, and `details` as its one
/// JSON detail.
pub fn failure(kind: Kind, message: String, details: Option<&Json>) -> Failure {
    Failure {
        message,
        source: "activity-host".to_owned(),
        failure_info: Some(FailureInfo::ApplicationFailureInfo(
            ApplicationFailureInfo {
                r#type: kind.as_str().to_owned(),
                non_retryable: !kind.retryable(),
                details: details.map(|value| Payloads {
                    payloads: vec![payloads::json(value)],
                }),
                ..ApplicationFailureInfo::default()
            },
        )),
        ..Failure::default()
    }
}
