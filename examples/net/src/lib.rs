//! Example activity component: HTTP requests and TCP exchanges with the
//! hosts its configuration grants (`allowed-outbound-hosts`). None of its
//! exports is cached: they are about what the network answers now.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use activity_sdk::http::Request;

activity_sdk::bindings!("example:net/net");
use bindings::exports::example::net::api::{Guest, Response};

struct Net;

#[activity_sdk::activity]
impl Guest for Net {
    fn http_get(url: String, headers: Vec<(String, String)>) -> Result<Response, String> {
        let mut request = Request::get(url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        send(request)
    }

    fn http_post(url: String, body: String) -> Result<Response, String> {
        send(Request::post(url, body))
    }

    fn http_get_repeatedly(url: String, count: u32) -> (u32, Option<String>) {
        for done in 0..count {
            if let Err(error) = Request::get(url.clone()).send() {
                return (done, Some(error.to_string()));
            }
        }
        (count, None)
    }

    fn http_get_length(url: String) -> Result<u64, String> {
        let mut response = Request::get(url).open().map_err(|e| e.to_string())?;
        std::io::copy(&mut response.body, &mut std::io::sink()).map_err(|e| e.to_string())
    }

    fn tcp_exchange(address: String, message: String) -> Result<String, String> {
        let mut stream = TcpStream::connect(&address).map_err(|e| format!("connect: {e}"))?;
        stream
            .write_all(message.as_bytes())
            .map_err(|e| format!("send: {e}"))?;
        let mut line = String::new();
        BufReader::new(stream)
            .read_line(&mut line)
            .map_err(|e| format!("receive: {e}"))?;
        Ok(line.trim_end().to_owned())
    }

    fn env_var(name: String) -> Option<String> {
        std::env::var(name).ok()
    }
}

fn send(request: Request) -> Result<Response, String> {
    let response = request.send().map_err(|error| error.to_string())?;
    Ok(Response {
        status: response.status,
        location: response.header("location").map(str::to_owned),
        body: String::from_utf8_lossy(&response.body).into_owned(),
    })
}

bindings::export!(Net with_types_in bindings);
