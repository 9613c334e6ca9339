//! The load client's one connection: HTTP/1.1 keep-alive over a blocking socket, one request
//! at a time, the request's bytes built once.
//!
//! A general client (reqwest) spends more CPU per request than the service's cheapest
//! endpoint does, and here it shares the service's two cores: measured with it, the service
//! looks slower than it is. This client does only what the bench needs: write the bytes, read
//! the status line and `Content-Length`, drain the body. An answer it cannot read that way
//! (chunked, cut short, malformed) is a failure and the connection is opened again.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The most bytes an answer's head may take.
const MOST_HEAD_BYTES: usize = 16 * 1024;
/// The most bytes an answer's body may take (the service's answers here are a few hundred).
const MOST_BODY_BYTES: usize = 1024 * 1024;
/// How long a read or a write may wait: a stalled service fails the request, not the bench.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// One request, serialized once and sent as often as asked.
pub struct Request {
    bytes: Vec<u8>,
}

impl Request {
    /// A `POST` of a JSON `body` to `path`, with the app's key, or a `GET` without a body.
    pub fn new(address: SocketAddr, path: &str, bearer: Option<&str>, body: Option<&[u8]>) -> Self {
        let method = if body.is_some() { "POST" } else { "GET" };
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\n");
        if let Some(key) = bearer {
            head += &format!("Authorization: Bearer {key}\r\n");
        }
        if let Some(body) = body {
            head += &format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            );
        }
        head += "\r\n";
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.unwrap_or_default());
        Self { bytes }
    }
}

/// A keep-alive connection to the service.
pub struct Connection {
    address: SocketAddr,
    stream: Option<TcpStream>,
    buffer: Vec<u8>,
}

impl Connection {
    /// A connection to `address`, opened at the first request.
    pub fn new(address: SocketAddr) -> Self {
        Self {
            address,
            stream: None,
            buffer: Vec::with_capacity(4096),
        }
    }

    /// Sends `request` and reads the whole answer: its status code. On any error the
    /// connection is closed, and the next request opens another.
    pub fn exchange(&mut self, request: &Request) -> io::Result<u16> {
        let answer = self.try_exchange(request);
        if answer.is_err() {
            self.stream = None;
        }
        answer
    }

    fn try_exchange(&mut self, request: &Request) -> io::Result<u16> {
        if self.stream.is_none() {
            let stream = TcpStream::connect_timeout(&self.address, IO_TIMEOUT)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(IO_TIMEOUT))?;
            stream.set_write_timeout(Some(IO_TIMEOUT))?;
            self.stream = Some(stream);
            self.buffer.clear();
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(io::Error::other("no connection"));
        };
        stream.write_all(&request.bytes)?;
        let head_end = loop {
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at + 4;
            }
            if self.buffer.len() > MOST_HEAD_BYTES {
                return Err(invalid("an answer's head longer than 16 KiB"));
            }
            fill(stream, &mut self.buffer)?;
        };
        let head = std::str::from_utf8(&self.buffer[..head_end])
            .map_err(|_| invalid("an answer's head that is not UTF-8"))?;
        let status = head
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| invalid("an answer without an HTTP/1.1 status line"))?;
        let length = head
            .split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse::<usize>().ok())
            .ok_or_else(|| invalid("an answer without Content-Length"))?;
        if length > MOST_BODY_BYTES {
            return Err(invalid("an answer's body longer than 1 MiB"));
        }
        let end = head_end + length;
        while self.buffer.len() < end {
            fill(stream, &mut self.buffer)?;
        }
        self.buffer.drain(..end);
        Ok(status)
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Reads what the socket has into `buffer`; a closed connection is an error.
fn fill(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 4096];
    let read = stream.read(&mut chunk)?;
    if read == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the service closed the connection",
        ));
    }
    buffer.extend_from_slice(&chunk[..read]);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server that answers each of `answers` to one request, on one connection.
    fn serve(answers: Vec<&'static [u8]>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            for answer in answers {
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).unwrap();
                stream.write_all(answer).unwrap();
            }
        });
        address
    }

    #[test]
    fn answers_on_one_connection_are_read_to_their_length_in_turn() {
        let address = serve(vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            b"HTTP/1.1 422 Unprocessable Entity\r\nContent-Length: 4\r\n\r\n{}{}",
        ]);
        let mut connection = Connection::new(address);
        let request = Request::new(address, "/v1/x", Some("k"), Some(b"{}"));
        assert_eq!(connection.exchange(&request).unwrap(), 200);
        assert_eq!(connection.exchange(&request).unwrap(), 422);
        assert!(connection.buffer.is_empty());
    }

    #[test]
    fn an_answer_without_a_length_is_a_failure_not_a_hang() {
        let address = serve(vec![
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        ]);
        let mut connection = Connection::new(address);
        let request = Request::new(address, "/healthz", None, None);
        let error = connection.exchange(&request).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(connection.stream.is_none(), "the connection is dropped");
    }

    #[test]
    fn an_answer_claiming_a_huge_body_is_a_failure_not_an_allocation() {
        let address = serve(vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 18446744073709551615\r\n\r\nok",
        ]);
        let mut connection = Connection::new(address);
        let request = Request::new(address, "/healthz", None, None);
        let error = connection.exchange(&request).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_request_carries_its_key_and_body_length() {
        let address: SocketAddr = "127.0.0.1:8787".parse().unwrap();
        let request = Request::new(address, "/v1/s/check", Some("sk_app_x"), Some(b"{\"a\":1}"));
        let text = String::from_utf8(request.bytes).unwrap();
        assert!(text.starts_with("POST /v1/s/check HTTP/1.1\r\nHost: 127.0.0.1:8787\r\n"));
        assert!(text.contains("Authorization: Bearer sk_app_x\r\n"));
        assert!(text.ends_with("Content-Length: 7\r\n\r\n{\"a\":1}"));
    }
}
