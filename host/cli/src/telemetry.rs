//! Where this process's logs and traces go: log lines to stderr (text or
//! JSON, filtered by `RUST_LOG`), and, with `--otlp-endpoint`, one trace span
//! per call exported over OTLP (HTTP or gRPC), the Temporal worker's activity
//! spans as their parents; and the record of recent calls and events that
//! the worker's page shows (fed by the same lines).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Args, ValueEnum};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::recent::Recent;

/// The target of the Temporal worker's activity spans (`temporal{…}`).
const TEMPORAL_SPAN_TARGET: &str = "activity_host::temporal";

/// How long exporting the last spans may take when the process ends.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(5);

/// The flags that say where logs and traces go (global: every subcommand
/// takes them).
#[derive(Args)]
pub struct TelemetryArgs {
    /// Format of the log lines written to stderr (one per call).
    #[arg(
        long,
        env = "ACTIVITY_HOST_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        global = true
    )]
    log_format: LogFormat,

    /// Export one OpenTelemetry span per call to this OTLP collector (e.g.
    /// `http://127.0.0.1:4318` for HTTP, `http://127.0.0.1:4317` for
    /// gRPC); with HTTP, `/v1/traces` is added unless the URL ends with it.
    #[arg(
        long,
        value_name = "URL",
        env = "ACTIVITY_HOST_OTLP_ENDPOINT",
        global = true
    )]
    otlp_endpoint: Option<String>,

    /// The OTLP transport: `http` (protobuf over HTTP) or `grpc`.
    #[arg(
        long,
        value_enum,
        env = "ACTIVITY_HOST_OTLP_PROTOCOL",
        default_value_t = OtlpProtocol::Http,
        global = true
    )]
    otlp_protocol: OtlpProtocol,
}

/// How log lines are written.
#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// How spans reach the collector.
#[derive(Clone, Copy, ValueEnum)]
enum OtlpProtocol {
    /// Protobuf over HTTP (`POST …/v1/traces`; collectors listen on 4318).
    Http,
    /// gRPC (collectors listen on 4317).
    Grpc,
}

/// Whether logs are JSON: then guests' output is logged as records too, so
/// stderr carries nothing but JSON.
static JSON_LOGS: AtomicBool = AtomicBool::new(false);

/// Whether this process logs JSON (`--log-format json`).
pub(crate) fn logs_are_json() -> bool {
    JSON_LOGS.load(Ordering::Relaxed)
}

/// The trace exporter while the process runs ([`Telemetry::shutdown`]
/// exports the spans still buffered), and the record of recent calls the
/// worker's page shows.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    recent: Arc<Recent>,
}

impl Telemetry {
    /// Installs logging (and trace export, if asked). Call it from within
    /// the tokio runtime: the gRPC exporter's connection lives there.
    pub fn init(args: &TelemetryArgs) -> anyhow::Result<Self> {
        JSON_LOGS.store(
            matches!(args.log_format, LogFormat::Json),
            Ordering::Relaxed,
        );
        let provider = args
            .otlp_endpoint
            .as_deref()
            .map(|endpoint| tracer_provider(endpoint, args.otlp_protocol))
            .transpose()?;
        let traces = provider.as_ref().map(|provider| {
            let spans = Targets::new()
                .with_target(activity_host::SPAN_TARGET, LevelFilter::INFO)
                .with_target(TEMPORAL_SPAN_TARGET, LevelFilter::INFO);
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("activity-host"))
                .with_filter(spans)
        });
        let recent = Recent::new();
        subscriber(
            log_lines(args.log_format),
            traces.map(Layer::boxed),
            &recent,
        )
        .init();
        Ok(Self { provider, recent })
    }

    /// What this process did lately, as its log lines told.
    pub fn recent(&self) -> Arc<Recent> {
        self.recent.clone()
    }

    /// Exports the spans still buffered (waiting at most 5 s).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(error) = provider.shutdown_with_timeout(SHUTDOWN_LIMIT)
        {
            eprintln!("warning: the last trace spans were not exported: {error}");
        }
    }
}

/// A layer of the process's subscriber.
type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// The process's subscriber: log lines, the record of recent calls, and
/// trace export if there is one. Without trace export no layer is there to
/// want call spans, so a call creates none (an absent layer in an `Option`
/// would want every callsite, and every call would build a span).
fn subscriber(
    lines: BoxedLayer,
    traces: Option<BoxedLayer>,
    recent: &Arc<Recent>,
) -> impl Subscriber + Send + Sync {
    let mut layers = vec![lines, recent.layer().boxed()];
    layers.extend(traces);
    Registry::default().with(layers)
}

/// The log lines on stderr, filtered by `RUST_LOG` (default: `info`); call
/// spans are for traces, not for prefixing lines.
fn log_lines(format: LogFormat) -> BoxedLayer {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive(
            format!("{}=off", activity_host::SPAN_TARGET)
                .parse()
                .expect("a valid directive"),
        );
    // Colours only on a terminal: log files and collectors get plain text.
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colours);
    match format {
        LogFormat::Text => lines.with_filter(filter).boxed(),
        LogFormat::Json => lines.json().flatten_event(true).with_filter(filter).boxed(),
    }
}

/// A provider exporting spans in batches to `endpoint`.
fn tracer_provider(endpoint: &str, protocol: OtlpProtocol) -> anyhow::Result<SdkTracerProvider> {
    let exporter = match protocol {
        OtlpProtocol::Http => {
            let url = if endpoint.trim_end_matches('/').ends_with("/v1/traces") {
                endpoint.to_owned()
            } else {
                format!("{}/v1/traces", endpoint.trim_end_matches('/'))
            };
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(url)
                .build()
        }
        OtlpProtocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build(),
    }
    .map_err(|error| anyhow::anyhow!("--otlp-endpoint {endpoint}: {error}"))?;
    // OTEL_SERVICE_NAME (and OTEL_RESOURCE_ATTRIBUTES) win when set.
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("activity-host");
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without trace export, a call's span is never built: it would cost
    /// every call (an allocation, its fields formatted) for nobody.
    #[test]
    fn without_trace_export_call_spans_are_disabled() {
        let recent = Recent::new();
        let subscriber = subscriber(log_lines(LogFormat::Json), None, &recent);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(target: activity_host::SPAN_TARGET, "call");
            assert!(span.is_disabled());
            let line = tracing::info_span!(target: "activity_host::call", "call");
            assert!(!line.is_disabled(), "the log's own targets stay enabled");
        });
    }
}
