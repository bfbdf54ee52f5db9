//! A local OTLP collector for tests: receives trace exports over HTTP
//! (protobuf, `POST /v1/traces`) or gRPC and keeps every span it is sent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;

use super::redis::free_port;

/// One span as the collector received it.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    /// The span's name.
    pub name: String,
    /// Its trace, span and parent span ids, as hex.
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    /// Its attributes, every value as text.
    pub attributes: BTreeMap<String, String>,
    /// The status code (0 unset, 1 ok, 2 error) and message.
    pub status_code: i32,
    pub status_message: String,
    /// The `service.name` of the resource that sent it.
    pub service: String,
}

impl ReceivedSpan {
    /// The attribute `name`, or "" when absent.
    pub fn attribute(&self, name: &str) -> &str {
        self.attributes.get(name).map_or("", String::as_str)
    }
}

type Received = Arc<Mutex<Vec<ReceivedSpan>>>;

/// A collector listening on a free loopback port until dropped.
pub struct OtlpCollector {
    /// What to pass as `--otlp-endpoint`.
    pub endpoint: String,
    received: Received,
    _runtime: tokio::runtime::Runtime,
}

impl OtlpCollector {
    /// A collector speaking OTLP over HTTP (protobuf).
    pub fn http() -> Self {
        Self::start(|port, received| async move {
            let export = move |body: Bytes| async move {
                let request = ExportTraceServiceRequest::decode(body).expect("an OTLP export");
                keep(&received, request);
                ExportTraceServiceResponse::default().encode_to_vec()
            };
            let app = axum::Router::new().route("/v1/traces", axum::routing::post(export));
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap();
            axum::serve(listener, app).await.unwrap();
        })
    }

    /// A collector speaking OTLP over gRPC.
    pub fn grpc() -> Self {
        Self::start(|port, received| async move {
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(GrpcCollector(received)))
                .serve(([127, 0, 0, 1], port).into())
                .await
                .unwrap();
        })
    }

    fn start<F, S>(serve: S) -> Self
    where
        S: FnOnce(u16, Received) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let port = free_port();
        let received = Received::default();
        runtime.spawn(serve(port, received.clone()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the collector did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            received,
            _runtime: runtime,
        }
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.received.lock().unwrap().clone()
    }
}

struct GrpcCollector(Received);

#[tonic::async_trait]
impl TraceService for GrpcCollector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        keep(&self.0, request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn keep(received: &Received, request: ExportTraceServiceRequest) {
    let mut received = received.lock().unwrap();
    for resource_spans in request.resource_spans {
        let resource = resource_spans.resource.unwrap_or_default();
        let service = attributes(&resource.attributes)
            .remove("service.name")
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                let status = span.status.unwrap_or_default();
                received.push(ReceivedSpan {
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    attributes: attributes(&span.attributes),
                    status_code: status.code,
                    status_message: status.message,
                    service: service.clone(),
                });
            }
        }
    }
}

fn attributes(pairs: &[KeyValue]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|pair| (pair.key.clone(), text(pair.value.as_ref())))
        .collect()
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        Some(any_value::Value::IntValue(number)) => number.to_string(),
        Some(any_value::Value::BoolValue(flag)) => flag.to_string(),
        Some(any_value::Value::DoubleValue(number)) => number.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
