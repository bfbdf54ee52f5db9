//! Why a call failed: the [`CallError`] a caller gets and its [`ErrorKind`],
//! the `error=` field of the call's log line and the label of its counter.

use std::fmt;
use std::time::Duration;

use crate::codec::EncodeError;

/// What kind of failure ended a call: written as `error="…"` in the call's
/// log line and counted per kind (`/metrics`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The guest trapped (a panic, an `unreachable`, a failed host call).
    Trap,
    /// The call outlived its time limit (the component's `timeout`, or the
    /// caller's deadline such as the worker's `--call-timeout`).
    Timeout,
    /// The guest grew a memory or a table beyond its limit
    /// (`max-memory-bytes`, `max-table-elements`).
    Memory,
    /// The arguments do not fit the function's parameters.
    Arguments,
    /// The arguments are larger than `max-argument-bytes`.
    TooLarge,
    /// The caller stopped waiting (a dropped call: a cancelled Temporal
    /// activity, a closed connection).
    Cancelled,
    /// The component could not be instantiated for the call.
    Instantiate,
    /// No loaded component or export answers to the name called.
    NotFound,
    /// Several loaded exports answer to the name called (name the
    /// component, or the interface).
    Ambiguous,
    /// An actor-cache helper computation was dropped unfinished (its
    /// instance trapped, or returned without finishing it).
    Abandoned,
}

impl ErrorKind {
    /// Every kind, in the order `/metrics` lists them.
    pub const ALL: [ErrorKind; 10] = [
        Self::Trap,
        Self::Timeout,
        Self::Memory,
        Self::Arguments,
        Self::TooLarge,
        Self::Cancelled,
        Self::Instantiate,
        Self::NotFound,
        Self::Ambiguous,
        Self::Abandoned,
    ];

    /// The kind as written in logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trap => "trap",
            Self::Timeout => "timeout",
            Self::Memory => "memory",
            Self::Arguments => "arguments",
            Self::TooLarge => "too-large",
            Self::Cancelled => "cancelled",
            Self::Instantiate => "instantiate",
            Self::NotFound => "not-found",
            Self::Ambiguous => "ambiguous",
            Self::Abandoned => "abandoned",
        }
    }

    /// The kind's position in [`ErrorKind::ALL`].
    pub(crate) fn index(self) -> usize {
        Self::ALL
            .iter()
            .position(|kind| *kind == self)
            .expect("ALL lists every kind")
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a call failed. Nothing is cached for a failed call.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The arguments do not match the function's parameters.
    #[error("invalid arguments for `{export}`: {source}")]
    Arguments {
        /// The export.
        export: String,
        /// What does not match.
        source: EncodeError,
    },
    /// The arguments are larger than the component's `max-argument-bytes`.
    #[error("the arguments of `{export}` are {bytes} bytes, beyond max-argument-bytes ({limit})")]
    ArgumentsTooLarge {
        /// The export.
        export: String,
        /// Their size ([`crate::limits::argument_bytes`]).
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The guest failed: it trapped, outlived its time limit, outgrew its
    /// memory, or could not be instantiated.
    #[error("`{export}` failed: {message}")]
    Guest {
        /// The export.
        export: String,
        /// [`ErrorKind::Trap`], [`ErrorKind::Timeout`], [`ErrorKind::Memory`]
        /// or [`ErrorKind::Instantiate`].
        kind: ErrorKind,
        /// The error chain, as text.
        message: String,
    },
    /// The call (waiting included) did not finish within the caller's
    /// deadline ([`CallOptions::timeout`](super::CallOptions::timeout)).
    #[error("`{export}` did not finish within {}", humantime::format_duration(*.limit))]
    Deadline {
        /// The export.
        export: String,
        /// The deadline.
        limit: Duration,
    },
}

impl CallError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Arguments { .. } => ErrorKind::Arguments,
            Self::ArgumentsTooLarge { .. } => ErrorKind::TooLarge,
            Self::Guest { kind, .. } => *kind,
            Self::Deadline { .. } => ErrorKind::Timeout,
        }
    }
}
