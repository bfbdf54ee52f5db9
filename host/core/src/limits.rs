//! Resource limits of one component's calls.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmtime::ResourceLimiter;
use wasmtime::component::Val;

use crate::memory_budget::Reservation;

/// Default bound on a guest instance's linear memory: 256 MiB.
const DEFAULT_MAX_MEMORY_BYTES: usize = 256 * 1024 * 1024;

/// Default bound on how long one call may run: 5 minutes.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Default bound on the size of a result kept in the cache: 4 MiB.
const DEFAULT_MAX_RESULT_BYTES: usize = 4 * 1024 * 1024;

/// Default bound on the elements of each table of an instance: 100 000
/// (Rust guests use hundreds; interpreters compiled to WebAssembly, tens of
/// thousands).
const DEFAULT_MAX_TABLE_ELEMENTS: usize = 100_000;

/// Default bound on the size of one call's arguments: 16 MiB.
const DEFAULT_MAX_ARGUMENT_BYTES: usize = 16 * 1024 * 1024;

/// Default bound on the HTTP requests and TCP connections of one call: 100.
const DEFAULT_MAX_OUTBOUND_REQUESTS: u32 = 100;

/// wasmtime's own budget for what one guest-to-host transfer may allocate
/// (a result lifted into values, an import's arguments): 128 MiB.
const WASMTIME_HOSTCALL_FUEL: usize = 128 << 20;

/// Default bound on establishing one outbound connection: 10 seconds.
const DEFAULT_OUTBOUND_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What one component's instances and results may use (as configuration:
/// kebab-case keys, every one optional, `timeout` written like `5m`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct Limits {
    /// Bound on each linear memory of an instance (default 256 MiB): growing
    /// beyond it traps, the call fails with an error that says so, and the
    /// instance is dropped.
    pub max_memory_bytes: usize,
    /// Bound on the elements of each table of an instance (default
    /// 100 000): growing beyond it (or starting beyond it) fails like
    /// growing memory beyond its bound.
    pub max_table_elements: usize,
    /// Bound on the size of one call's arguments (default 16 MiB; see
    /// [`argument_bytes`]): a larger call is refused before anything runs.
    pub max_argument_bytes: usize,
    /// Bound on an encoded result kept in the cache (default 4 MiB): a larger
    /// result is returned to the caller but not stored (the call's log line
    /// says so).
    pub max_result_bytes: usize,
    /// Bound on how long one call may run (default 5 min): a guest still
    /// running then, even one looping without end, is stopped at its next
    /// epoch tick (10 ms), the call fails with an error that says so, and
    /// its instance is dropped.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Bound on the HTTP requests plus TCP connections of one call (default
    /// 100): past it, requests fail with `connection-limit-reached` and
    /// connections with `access-denied`.
    pub max_outbound_requests: u32,
    /// Bound on establishing one HTTP connection (default 10 s); the call's
    /// `timeout` bounds everything else a request or connection waits for.
    #[serde(with = "humantime_serde")]
    pub outbound_connect_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
            max_table_elements: DEFAULT_MAX_TABLE_ELEMENTS,
            max_argument_bytes: DEFAULT_MAX_ARGUMENT_BYTES,
            max_result_bytes: DEFAULT_MAX_RESULT_BYTES,
            timeout: DEFAULT_TIMEOUT,
            max_outbound_requests: DEFAULT_MAX_OUTBOUND_REQUESTS,
            outbound_connect_timeout: DEFAULT_OUTBOUND_CONNECT_TIMEOUT,
        }
    }
}

impl Limits {
    /// The budget wasmtime gets for what one guest-to-host transfer may
    /// allocate. Each lifted value counts as a whole [`Val`], so a
    /// `list<u8>` result costs `size_of::<Val>()` per byte: the budget lets
    /// through results of twice `max-result-bytes` (one just over it gets
    /// the limit's clear treatment, not a trap), and never less than
    /// wasmtime's default. It bounds what the host allocates for one
    /// transfer, which no memory budget counts. (The one `list<u8>` or
    /// `string` result of a byte export is taken as bytes, one unit of fuel
    /// per byte.)
    pub fn hostcall_fuel(&self) -> usize {
        self.max_result_bytes
            .saturating_mul(2 * size_of::<Val>())
            .max(WASMTIME_HOSTCALL_FUEL)
    }

    /// The longest `list<u8>` result the host takes: what
    /// [`Self::hostcall_fuel`] lets it take as values (twice
    /// `max-result-bytes`, and never less than about 3 MiB), also when a byte export's result
    /// is taken as bytes, so that lifting it into values stays as bounded.
    pub fn max_byte_list_result(&self) -> usize {
        self.hostcall_fuel() / size_of::<Val>()
    }

    /// What is wrong with these limits, if anything: a zero `timeout`,
    /// `outbound-connect-timeout`, `max-memory-bytes` or
    /// `max-table-elements` would make every call fail.
    pub fn check(&self) -> Result<(), String> {
        let zero = if self.timeout.is_zero() {
            "timeout"
        } else if self.outbound_connect_timeout.is_zero() {
            "outbound-connect-timeout"
        } else if self.max_memory_bytes == 0 {
            "max-memory-bytes"
        } else if self.max_table_elements == 0 {
            "max-table-elements"
        } else {
            return Ok(());
        };
        Err(format!("{zero} must be more than 0: every call would fail"))
    }

    /// The limiter of one instance's store; with `reservation`, the
    /// instance's memories together also stay within what it reserved from
    /// the worker's budget (or what it can add to it without waiting).
    pub(crate) fn limiter(&self, reservation: Option<Reservation>) -> MemoryLimiter {
        MemoryLimiter {
            max_memory_bytes: self.max_memory_bytes,
            max_table_elements: self.max_table_elements,
            exceeded: false,
            reservation,
            memory_bytes: 0,
            last_charge: 0,
        }
    }

    /// How much network one call may use: response bodies count against
    /// `max-memory-bytes`, since the guest reads them into its memory.
    pub(crate) fn network_budget(&self) -> crate::outbound::NetworkBudget {
        crate::outbound::NetworkBudget {
            max_connections: self.max_outbound_requests,
            max_response_bytes: self.max_memory_bytes as u64,
            connect_timeout: self.outbound_connect_timeout,
        }
    }
}

/// Enforces [`Limits::max_memory_bytes`] and [`Limits::max_table_elements`]
/// in one instance's store: growing beyond them traps, with an error that
/// names the limit.
pub struct MemoryLimiter {
    max_memory_bytes: usize,
    max_table_elements: usize,
    exceeded: bool,
    reservation: Option<Reservation>,
    /// All linear memories of the instance together.
    memory_bytes: u64,
    /// The last growth counted, taken back if wasmtime then refuses it.
    last_charge: u64,
}

impl MemoryLimiter {
    /// Whether the instance tried to grow beyond a limit (so a failure of
    /// its call is the limit's doing, not the guest's own trap).
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }

    /// Whether calls wait for the worker's memory budget (so an instance
    /// whose call ended is dropped rather than kept warm).
    pub(crate) fn budget_contended(&self) -> bool {
        self.reservation
            .as_ref()
            .is_some_and(Reservation::contended)
    }

    /// Counts a growth of `grown` bytes against the reservation, taking more
    /// from the budget if it is free; an error if it is not.
    fn charge(&mut self, grown: u64) -> wasmtime::Result<()> {
        let Some(reservation) = &mut self.reservation else {
            return Ok(());
        };
        let needed = self.memory_bytes + grown;
        let reserved = reservation.bytes();
        if needed > reserved && !reservation.try_extend(needed - reserved) {
            self.exceeded = true;
            wasmtime::bail!(
                "worker memory budget exhausted: this instance's memories would reach {needed} \
                 bytes, and the rest of max-total-memory-bytes ({}) is held by other instances",
                reservation.budget_bytes()
            );
        }
        self.memory_bytes = needed;
        self.last_charge = grown;
        Ok(())
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            self.exceeded = true;
            wasmtime::bail!(
                "guest memory limit exceeded: growing a linear memory to {desired} bytes, \
                 beyond max-memory-bytes ({})",
                self.max_memory_bytes
            );
        }
        self.last_charge = 0;
        // Beyond the memory's own maximum the growth fails anyway.
        if maximum.is_none_or(|maximum| desired <= maximum) {
            self.charge(desired.saturating_sub(current) as u64)?;
        }
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        // The growth counted did not happen (what it took from the budget
        // stays reserved until the instance is dropped).
        self.memory_bytes -= std::mem::take(&mut self.last_charge);
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table_elements {
            self.exceeded = true;
            wasmtime::bail!(
                "guest table limit exceeded: growing a table to {desired} elements, \
                 beyond max-table-elements ({})",
                self.max_table_elements
            );
        }
        Ok(true)
    }
}

/// The size of `args` as the guest receives them: the bytes of strings and
/// lists' elements, and each scalar's own size (a `u64` is 8 bytes).
pub fn argument_bytes(args: &[Val]) -> usize {
    args.iter().map(value_bytes).sum()
}

fn value_bytes(value: &Val) -> usize {
    match value {
        Val::Bool(_) | Val::S8(_) | Val::U8(_) => 1,
        Val::S16(_) | Val::U16(_) => 2,
        Val::S32(_) | Val::U32(_) | Val::Float32(_) | Val::Char(_) | Val::Enum(_) => 4,
        Val::S64(_) | Val::U64(_) | Val::Float64(_) => 8,
        Val::String(text) => text.len(),
        Val::List(items) | Val::Tuple(items) | Val::FixedLengthList(items) => {
            items.iter().map(value_bytes).sum()
        }
        Val::Map(pairs) => pairs
            .iter()
            .map(|(key, value)| value_bytes(key) + value_bytes(value))
            .sum(),
        Val::Record(fields) => fields.iter().map(|(_, field)| value_bytes(field)).sum(),
        Val::Variant(_, payload) | Val::Option(payload) => {
            1 + payload.as_deref().map_or(0, value_bytes)
        }
        Val::Result(outcome) => {
            let payload = match outcome {
                Ok(payload) | Err(payload) => payload,
            };
            1 + payload.as_deref().map_or(0, value_bytes)
        }
        Val::Flags(names) => names.len().div_ceil(8),
        Val::Resource(_) | Val::Future(_) | Val::Stream(_) | Val::ErrorContext(_) => 4,
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::ResourceLimiter;

    use super::Limits;
    use crate::memory_budget::MemoryBudget;

    const MIB: usize = 1024 * 1024;

    #[tokio::test]
    async fn memories_beyond_the_reservation_take_only_free_budget() {
        let budget = MemoryBudget::new(8 * MIB as u64);
        let limits = Limits {
            max_memory_bytes: 4 * MIB,
            ..Limits::default()
        };
        let reservation = budget.reserve(4 * MIB as u64).await;
        let mut limiter = limits.limiter(Some(reservation));
        // Two memories of 3 MiB: the second takes 2 MiB more from the budget.
        assert!(limiter.memory_growing(0, 3 * MIB, None).unwrap());
        assert!(limiter.memory_growing(0, 3 * MIB, None).unwrap());
        assert_eq!(budget.usage().reserved_bytes, 6 * MIB as u64);
        let _other = budget.reserve(2 * MIB as u64).await;
        let error = limiter.memory_growing(3 * MIB, 4 * MIB, None).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("max-total-memory-bytes (8388608)"),
            "{error}"
        );
        assert!(limiter.exceeded(), "reported as a memory failure");
        drop(limiter);
        assert_eq!(budget.usage().reserved_bytes, 2 * MIB as u64);
    }
}
