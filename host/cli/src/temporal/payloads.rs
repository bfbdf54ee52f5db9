//! Temporal payloads ⇄ JSON. Each argument arrives as one payload in one of
//! the default converters' encodings (`json/plain`; `binary/null` for a
//! missing value; `binary/plain` for bytes, read as a list of numbers); the
//! result leaves as one `json/plain` payload (`binary/null` for none).
//! Payloads encrypted or compressed by a client-side codec are refused.

use std::collections::HashMap;

use serde_json::Value as Json;
use temporalio_common::protos::temporal::api::common::v1::Payload;

/// The metadata key that names a payload's encoding.
const ENCODING: &str = "encoding";

/// A payload this worker cannot read.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// An encoding other than the default converters' plain ones.
    #[error(
        "argument {index} is encoded as `{encoding}`; this worker reads json/plain, binary/null and binary/plain (no payload codec)"
    )]
    Encoding {
        /// Which argument (from 0).
        index: usize,
        /// Its encoding.
        encoding: String,
    },
    /// `json/plain` that is not JSON.
    #[error("argument {index} is not valid JSON: {source}")]
    Json {
        /// Which argument (from 0).
        index: usize,
        /// What the parser said.
        source: serde_json::Error,
    },
}

/// The arguments, as a JSON array with one element per payload.
pub fn arguments(payloads: &[Payload]) -> Result<Json, PayloadError> {
    payloads
        .iter()
        .enumerate()
        .map(|(index, payload)| argument(index, payload))
        .collect::<Result<Vec<_>, _>>()
        .map(Json::Array)
}

fn argument(index: usize, payload: &Payload) -> Result<Json, PayloadError> {
    let encoding = payload
        .metadata
        .get(ENCODING)
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .unwrap_or_default();
    match encoding.as_str() {
        "json/plain" => serde_json::from_slice(&payload.data)
            .map_err(|source| PayloadError::Json { index, source }),
        "binary/null" => Ok(Json::Null),
        "binary/plain" => Ok(Json::Array(
            payload.data.iter().map(|&b| Json::from(b)).collect(),
        )),
        _ => Err(PayloadError::Encoding { index, encoding }),
    }
}

/// `value` as a `json/plain` payload.
pub fn json(value: &Json) -> Payload {
    with_encoding("json/plain", value.to_string().into_bytes())
}

/// The payload of "no value" (a function without result).
pub fn null() -> Payload {
    with_encoding("binary/null", Vec::new())
}

fn with_encoding(encoding: &str, data: Vec<u8>) -> Payload {
    Payload {
        metadata: HashMap::from([(ENCODING.to_owned(), encoding.as_bytes().to_vec())]),
        data,
        ..Payload::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_default_encodings() {
        let payloads = [
            json(&serde_json::json!({"id": 1})),
            null(),
            with_encoding("binary/plain", vec![7, 255]),
        ];
        assert_eq!(
            arguments(&payloads).unwrap(),
            serde_json::json!([{"id": 1}, null, [7, 255]])
        );
    }

    #[test]
    fn refuses_codec_payloads_and_bad_json() {
        let encrypted = with_encoding("binary/encrypted", vec![1, 2]);
        let error = arguments(&[null(), encrypted]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("argument 1 is encoded as `binary/encrypted`")
        );
        let broken = with_encoding("json/plain", b"{nope".to_vec());
        assert!(matches!(
            arguments(&[broken]),
            Err(PayloadError::Json { index: 0, .. })
        ));
    }
}
