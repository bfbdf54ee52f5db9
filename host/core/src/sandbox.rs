//! Everything that bounds one component's guests: resource [`Limits`] and
//! granted [`Capabilities`].

use crate::capabilities::Capabilities;
use crate::limits::Limits;

/// The sandbox of one component's instances.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sandbox {
    /// What its instances and results may use.
    pub limits: Limits,
    /// What its guests may reach (default: nothing).
    pub capabilities: Capabilities,
}
