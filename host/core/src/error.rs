//! [`HostError`]: why a [`Host`](crate::Host) operation on loaded components
//! failed.

use std::borrow::Cow;

use crate::component::ExportLookupError;
use crate::memo::{CallError, ErrorKind};
use crate::store::StoreError;

/// Why a [`Host`](crate::Host) operation on a loaded component failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// No component is loaded under that name.
    #[error("no component named `{0}` is loaded")]
    UnknownComponent(String),
    /// The export name does not address one exported function of the
    /// component.
    #[error(transparent)]
    Export(#[from] ExportLookupError),
    /// No loaded component exports the name
    /// ([`Host::find_export`](crate::Host::find_export)).
    #[error("no loaded component exports `{name}`; exports served here: {served}")]
    NotExported {
        /// The name given.
        name: String,
        /// What the host serves ([`Host::export_names`](crate::Host::export_names)).
        served: String,
    },
    /// Several loaded components export the name
    /// ([`Host::find_export`](crate::Host::find_export)).
    #[error("`{name}` is exported by several components; name one: {candidates}")]
    ExportedBySeveral {
        /// The name given.
        name: String,
        /// The qualified names (`component/export`) it could mean.
        candidates: String,
    },
    /// The arguments (WAVE or JSON) do not fit the function.
    #[error("cannot parse `{}`: {message}", excerpt(text, 200))]
    Arguments {
        /// The arguments (or the whole invocation) as given.
        text: String,
        /// What is wrong with them, and the signature they must fit.
        message: String,
    },
    /// The call itself failed.
    #[error(transparent)]
    Call(#[from] CallError),
    /// Invalidation asked of an export whose rule does not cache it.
    #[error("`{0}` is not cached (its policy is no-cache), so it has no entries")]
    NotCached(String),
    /// The store failed to invalidate or to report.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl HostError {
    /// The kind of failure, as a failed call's log line and counters name
    /// it; `None` for failures that are not calls (invalidation, reports).
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Self::Export(ExportLookupError::Ambiguous { .. }) | Self::ExportedBySeveral { .. } => {
                Some(ErrorKind::Ambiguous)
            }
            Self::UnknownComponent(_) | Self::Export(_) | Self::NotExported { .. } => {
                Some(ErrorKind::NotFound)
            }
            Self::Arguments { .. } => Some(ErrorKind::Arguments),
            Self::Call(error) => Some(error.kind()),
            Self::NotCached(_) | Self::Store(_) => None,
        }
    }
}

/// `text` as errors quote it: whole up to `max` bytes, else its start, `...`
/// and its length (a 1 MiB argument must not become a 1 MiB log line).
pub(crate) fn excerpt(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let start = &text[..text.floor_char_boundary(max.saturating_sub(3))];
    Cow::Owned(format!("{start}... ({} bytes in all)", text.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_quoted_by_its_start_and_length() {
        assert_eq!(excerpt("short", 10), "short");
        let long = "é".repeat(100);
        let quoted = excerpt(&long, 20);
        assert_eq!(quoted, format!("{}... (200 bytes in all)", "é".repeat(8)));
    }
}
