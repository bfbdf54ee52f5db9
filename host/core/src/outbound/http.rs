//! Outgoing `wasi:http` requests: each is checked against the component's
//! grants and the call's budget, gets its secrets put in, and is sent by
//! wasmtime-wasi-http's own sender (one connection, no redirects followed);
//! its response body counts against the call's budget.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::{Network, Scheme, Secrets};

/// The `wasi:http` hooks of one instance.
pub(crate) struct OutboundHttp {
    network: Arc<Network>,
    secrets: Secrets,
}

/// The future `send_request` answers with.
type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl OutboundHttp {
    /// Hooks checking requests against `network` and revealing `secrets`.
    pub fn new(network: Arc<Network>, secrets: Secrets) -> Self {
        Self { network, secrets }
    }

    /// Checks `request` and puts its secrets in; the error the guest gets
    /// otherwise (the refusal logged).
    fn authorize(&self, request: &mut Request<WasiBody>) -> Result<(), Error> {
        let uri = request.uri();
        let scheme = match uri.scheme_str() {
            Some("https") => Scheme::Https,
            Some("http") => Scheme::Http,
            _ => return Err(Error::HttpProtocolError),
        };
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri.port_u16().unwrap_or(match scheme {
            Scheme::Https => 443,
            _ => 80,
        });
        let target = format!("{}://{host}:{port}", scheme.as_str());
        let method = request.method().as_str().to_owned();
        let network = &self.network;
        if !network
            .grants
            .iter()
            .any(|grant| grant.allows(scheme, &host, port, Some(&method)))
        {
            network.refuse(
                &format!("{method} {target}"),
                "no allowed-outbound-hosts entry grants it",
            );
            return Err(Error::HttpRequestDenied);
        }
        if !self.secrets.is_empty() {
            self.reveal_secrets(request, scheme, &host, port, &target)?;
        }
        if !network.take_connection(&format!("{method} {target}")) {
            return Err(Error::ConnectionLimitReached);
        }
        Ok(())
    }

    /// Replaces the placeholders in `request`'s headers and URI by their
    /// secrets, if they may go to `host`; refuses the request otherwise.
    fn reveal_secrets(
        &self,
        request: &mut Request<WasiBody>,
        scheme: Scheme,
        host: &str,
        port: u16,
        target: &str,
    ) -> Result<(), Error> {
        let misplaced = |secret: super::secrets::MisplacedSecret| {
            self.network.refuse(
                target,
                &format!(
                    "the request carries secret {}, which may not go there",
                    secret.name
                ),
            );
            Error::HttpRequestDenied
        };
        let uri = request.uri().to_string();
        if let Some(revealed) = self
            .secrets
            .reveal(&uri, scheme, host, port)
            .map_err(misplaced)?
        {
            *request.uri_mut() = revealed
                .parse::<Uri>()
                .map_err(|_| Error::HttpRequestUriInvalid)?;
        }
        for value in request.headers_mut().values_mut() {
            let Ok(text) = value.to_str() else { continue };
            let Some(revealed) = self
                .secrets
                .reveal(text, scheme, host, port)
                .map_err(misplaced)?
            else {
                continue;
            };
            let mut secret = HeaderValue::from_str(&revealed).map_err(|_| {
                Error::InternalError(Some("a secret is not a valid header value".into()))
            })?;
            secret.set_sensitive(true);
            *value = secret;
        }
        Ok(())
    }
}

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        mut request: Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        drop(fut);
        if let Err(refused) = self.authorize(&mut request) {
            return Box::new(async move { Err(refused) });
        }
        // Past the host's connect timeout no guest waits; the call's own
        // timeout bounds the rest (a stopped call aborts its requests).
        let connect_timeout = self.network.connect_timeout;
        let mut options = options.unwrap_or_default();
        options.connect_timeout = Some(
            options
                .connect_timeout
                .map_or(connect_timeout, |asked| asked.min(connect_timeout)),
        );
        let network = Arc::clone(&self.network);
        Box::new(async move {
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            let response = response.map(|body| {
                CountedBody {
                    body: body.boxed_unsync(),
                    network,
                }
                .boxed_unsync()
            });
            Ok((
                response,
                Box::new(io) as Box<dyn Future<Output = Result<(), Error>> + Send>,
            ))
        })
    }
}

/// A response body whose bytes count against the call's budget.
struct CountedBody {
    body: WasiBody,
    network: Arc<Network>,
}

impl Body for CountedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            let bytes = frame.data_ref().map_or(0, Bytes::len);
            if !self.network.take_response_bytes(bytes) {
                let limit = self.network.max_response_bytes;
                return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(limit)))));
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
