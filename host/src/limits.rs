//! Resource limits of one component's calls.

use std::time::Duration;

use wasmtime::ResourceLimiter;

/// Default bound on a guest instance's linear memory: 256 MiB.
pub const DEFAULT_MAX_MEMORY_BYTES: usize = 256 * 1024 * 1024;

/// Default bound on how long one call may run: 5 minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Default bound on the size of a result kept in the cache: 4 MiB.
pub const DEFAULT_MAX_RESULT_BYTES: usize = 4 * 1024 * 1024;

/// What one component's instances and results may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bound on each linear memory of an instance (default 256 MiB): growing
    /// beyond it traps, the call fails with an error that says so, and the
    /// instance is dropped.
    pub max_memory_bytes: usize,
    /// Bound on an encoded result kept in the cache (default 4 MiB): a larger
    /// result is returned to the caller but not stored (the call's log line
    /// says so).
    pub max_result_bytes: usize,
    /// Bound on how long one call may run (default 5 min): a guest still
    /// running then, even one looping without end, is stopped at its next
    /// epoch tick (10 ms), the call fails with an error that says so, and
    /// its instance is dropped.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
            max_result_bytes: DEFAULT_MAX_RESULT_BYTES,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl Limits {
    /// The limiter of one instance's store.
    pub fn limiter(&self) -> MemoryLimiter {
        MemoryLimiter {
            max_memory_bytes: self.max_memory_bytes,
        }
    }
}

/// Enforces [`Limits::max_memory_bytes`] in one instance's store: growing a
/// linear memory beyond it traps, with an error that names the limit.
pub struct MemoryLimiter {
    max_memory_bytes: usize,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            wasmtime::bail!(
                "guest memory limit exceeded: growing a linear memory to {desired} bytes, \
                 beyond max-memory-bytes ({})",
                self.max_memory_bytes
            );
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}
