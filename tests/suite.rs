//! The end-to-end suite: one test binary (linking wasmtime once) with a
//! module per area, all on real compiled components, real `redis-server`
//! processes and real worker processes. Run one area with a filter, e.g.
//! `scripts/test.sh fleet::`.

mod support;

mod actor;
mod cluster;
mod codec;
mod differential;
mod entries;
mod first_hour;
mod fleet;
mod fuzz;
mod languages;
mod logs;
mod memo;
mod outbound;
mod reasons;
mod redis;
mod redis_tls;
mod temporal;
mod temporal_production;
mod traces;
mod ui;
mod users;
mod worker;
