//! Checks shared by the tests of stores that several hosts share (Redis,
//! Redis Cluster).

use activity_host::{Host, Outcome, Val};

/// Calls `users.fetch-user(id)` on `host`; checks the user is the right one
/// whatever the outcome, and returns the outcome.
pub async fn fetch(host: &Host, id: u64) -> Outcome {
    let report = host
        .call("users", "fetch-user", &[Val::U64(id)])
        .await
        .unwrap();
    let Val::Record(fields) = &report.results()[0] else {
        panic!("{:?}", report.results())
    };
    assert_eq!(
        fields[0].1,
        Val::U64(id),
        "the right user, whatever the outcome"
    );
    report.outcome
}

/// With `id` cached by `first` and `second` (sharing a store): export and
/// component invalidation by one host are seen by the other.
pub async fn invalidation_is_shared(first: &Host, second: &Host, id: u64) {
    second
        .invalidate_export("users", "fetch-user")
        .await
        .unwrap();
    assert_eq!(
        fetch(first, id).await,
        Outcome::Miss,
        "seen by the other host"
    );
    first.invalidate_component("users").await.unwrap();
    assert_eq!(fetch(second, id).await, Outcome::Miss);
    assert_eq!(fetch(first, id).await, Outcome::Hit);
}
