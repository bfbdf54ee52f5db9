//! What Redis holds and evicted, as `/metrics` shows it: the keys of the
//! database (`DBSIZE`), the memory Redis uses (`used_memory`) and the keys it
//! evicted under `maxmemory` (`evicted_keys`), summed over a cluster's
//! primaries.

use redis::Value;

use super::RedisStore;
use crate::store::{StoreError, StoreUsage};

impl RedisStore {
    /// Redis's own figures: two requests, sent at once.
    pub(super) async fn server_usage(&self) -> Result<StoreUsage, StoreError> {
        let (mut counting, mut informing) = (self.connection(), self.connection());
        let (dbsize, mut info) = (redis::cmd("DBSIZE"), redis::cmd("INFO"));
        info.arg("memory").arg("stats");
        let keys = dbsize.query_async::<u64>(&mut counting);
        let info = info.query_async::<Value>(&mut informing);
        let (entries, info) = self.guarded(async { tokio::try_join!(keys, info) }).await?;
        let mut texts = Vec::new();
        collect_texts(&info, &mut texts);
        Ok(StoreUsage {
            entries,
            bytes: sum_field(&texts, "used_memory"),
            evictions: sum_field(&texts, "evicted_keys"),
        })
    }
}

/// The texts in an `INFO` reply: one from a single node, one per primary
/// from a cluster (a map from node to text).
fn collect_texts(reply: &Value, texts: &mut Vec<String>) {
    match reply {
        Value::BulkString(bytes) => texts.push(String::from_utf8_lossy(bytes).into_owned()),
        Value::VerbatimString { text, .. } | Value::SimpleString(text) => texts.push(text.clone()),
        Value::Map(pairs) => pairs
            .iter()
            .for_each(|(_, value)| collect_texts(value, texts)),
        Value::Array(values) => values.iter().for_each(|value| collect_texts(value, texts)),
        _ => {}
    }
}

/// The sum of the `field:NUMBER` lines of `texts`.
fn sum_field(texts: &[String], field: &str) -> u64 {
    texts
        .iter()
        .flat_map(|text| text.lines())
        .filter_map(|line| line.trim_end().split_once(':'))
        .filter(|(name, _)| *name == field)
        .filter_map(|(_, value)| value.parse::<u64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_summed_over_nodes() {
        let node = |memory: u64, evicted: u64| {
            Value::BulkString(
                format!("# Memory\r\nused_memory:{memory}\r\nused_memory_human:1K\r\n# Stats\r\nevicted_keys:{evicted}\r\n")
                    .into_bytes(),
            )
        };
        let cluster = Value::Map(vec![
            (Value::SimpleString("a:1".into()), node(100, 1)),
            (Value::SimpleString("b:2".into()), node(50, 2)),
        ]);
        let mut texts = Vec::new();
        collect_texts(&cluster, &mut texts);
        assert_eq!(sum_field(&texts, "used_memory"), 150);
        assert_eq!(sum_field(&texts, "evicted_keys"), 3);
        assert_eq!(sum_field(&texts, "missing"), 0);
    }
}
