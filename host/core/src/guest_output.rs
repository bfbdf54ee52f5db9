//! Guest output as log records: each line a guest writes to stderr (or to
//! stdout, where granted) becomes one record (target `activity_host::guest`,
//! fields `component` and `stream`), so a host logging JSON writes nothing
//! but JSON.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// Where guests' output goes (stderr, and stdout where granted).
#[derive(Clone, Default)]
pub(crate) enum GuestOutput {
    /// To the host's stderr, as written.
    #[default]
    Inherit,
    /// Into a pipe the embedder reads.
    Capture(MemoryOutputPipe),
    /// As log records, a line each ([`GuestLog`]).
    Log,
}

/// Bound on one record: a longer line is split.
const MAX_LINE_BYTES: usize = 16 * 1024;

/// One guest stream of one component, written as log records.
#[derive(Clone)]
pub(crate) struct GuestLog {
    component: Arc<str>,
    /// `stderr` or `stdout`.
    stream: &'static str,
}

impl GuestLog {
    /// The `stream` (`stderr`, `stdout`) of `component`'s guests.
    pub(crate) fn new(component: Arc<str>, stream: &'static str) -> Self {
        Self { component, stream }
    }
}

impl IsTerminal for GuestLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestLog {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            log: self.clone(),
            pending: Vec::new(),
        })
    }
}

/// Collects bytes into lines and logs each complete one; what is left when
/// the instance ends is logged as a last line.
struct LineWriter {
    log: GuestLog,
    pending: Vec<u8>,
}

impl LineWriter {
    fn record(&self, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        tracing::info!(
            target: "activity_host::guest",
            component = &*self.log.component,
            stream = self.log.stream,
            "{}",
            line.trim_end_matches('\r')
        );
    }

    /// Logs every complete line (and splits an overlong one).
    fn drain_lines(&mut self) {
        while let Some(end) = self.pending.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.record(&line[..end]);
        }
        while self.pending.len() >= MAX_LINE_BYTES {
            let part: Vec<u8> = self.pending.drain(..MAX_LINE_BYTES).collect();
            self.record(&part);
        }
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.pending.extend_from_slice(bytes);
        self.drain_lines();
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            self.record(&self.pending);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_lines_are_drained_and_the_rest_waits() {
        let mut writer = LineWriter {
            log: GuestLog::new(Arc::from("c"), "stderr"),
            pending: Vec::new(),
        };
        writer.pending.extend_from_slice(b"one\ntwo\r\nthr");
        writer.drain_lines();
        assert_eq!(writer.pending, b"thr");
        writer
            .pending
            .extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES));
        writer.drain_lines();
        assert!(writer.pending.len() < MAX_LINE_BYTES);
    }
}
