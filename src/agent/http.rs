//! A minimal HTTP/1.1 responder for `GET /metrics` and `GET /healthz`, on
//! std::net: one request per connection (`Connection: close`), the request
//! head bounded to [`MAX_REQUEST`] bytes and read within [`READ_TIMEOUT`].
//! Two fixed paths do not need an HTTP library.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The most bytes of request head read; a longer head gets 431.
pub const MAX_REQUEST: usize = 8192;
/// How long a client may take to send its request head (and to take the answer).
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the accept loop looks at its stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(100);

/// An answer: status line code and reason, content type, body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub code: u16,
    pub reason: &'static str,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    pub fn text(code: u16, reason: &'static str, body: impl Into<String>) -> Response {
        Response { code, reason, content_type: "text/plain; charset=utf-8", body: body.into() }
    }

    fn write_to(&self, out: &mut impl Write, head_only: bool) -> std::io::Result<()> {
        let head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.code,
            self.reason,
            self.content_type,
            self.body.len()
        );
        out.write_all(head.as_bytes())?;
        if !head_only {
            out.write_all(self.body.as_bytes())?;
        }
        out.flush()
    }
}

/// What a request head asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// GET (or HEAD, `head: true`) of this path, query string removed.
    Get { path: String, head: bool },
    /// Another method.
    Method(String),
    /// Not an HTTP/1.x request line.
    Bad,
}

/// Parses the request line of `head` (the bytes up to the blank line).
pub fn parse_request(head: &[u8]) -> Request {
    let text = String::from_utf8_lossy(head);
    let line = text.split("\r\n").next().unwrap_or("");
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Request::Bad;
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return Request::Bad;
    }
    let path = target.split('?').next().unwrap_or(target).to_string();
    match method {
        "GET" => Request::Get { path, head: false },
        "HEAD" => Request::Get { path, head: true },
        m => Request::Method(m.to_string()),
    }
}

/// Reads a request head: `Ok(None)` when it exceeds [`MAX_REQUEST`].
fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() >= MAX_REQUEST {
            return Ok(None);
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(buf))
}

/// Serves one connection with `route` (given the path of a GET).
fn serve_one(mut stream: TcpStream, route: &dyn Fn(&str) -> Response) -> std::io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(READ_TIMEOUT))?;
    let (resp, head_only) = match read_head(&mut stream)? {
        None => (Response::text(431, "Request Header Fields Too Large", "request head too large\n"), false),
        Some(head) => match parse_request(&head) {
            Request::Get { path, head } => (route(&path), head),
            Request::Method(_) => (Response::text(405, "Method Not Allowed", "only GET\n"), false),
            Request::Bad => (Response::text(400, "Bad Request", "bad request\n"), false),
        },
    };
    resp.write_to(&mut stream, head_only)?;
    let _ = stream.shutdown(std::net::Shutdown::Both);
    Ok(())
}

/// Accepts connections on `listener` one at a time until `stop` is set.
/// A failing connection is dropped; the loop goes on.
pub fn serve(listener: TcpListener, stop: Arc<AtomicBool>, route: impl Fn(&str) -> Response) {
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                if stream.set_nonblocking(false).is_ok() {
                    let _ = serve_one(stream, &route);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(ACCEPT_POLL),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // EMFILE and the like: wait a moment rather than spin.
            Err(_) => std::thread::sleep(ACCEPT_POLL),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Request, Response, parse_request, serve};
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn request_lines() {
        assert_eq!(
            parse_request(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Request::Get { path: "/metrics".into(), head: false }
        );
        assert_eq!(
            parse_request(b"HEAD /healthz?x=1 HTTP/1.0\r\n\r\n"),
            Request::Get { path: "/healthz".into(), head: true }
        );
        assert_eq!(parse_request(b"POST /metrics HTTP/1.1\r\n\r\n"), Request::Method("POST".into()));
        assert_eq!(parse_request(b"GET /metrics\r\n\r\n"), Request::Bad);
        assert_eq!(parse_request(b"GET metrics HTTP/1.1\r\n\r\n"), Request::Bad);
        assert_eq!(parse_request(b"\x00\xff"), Request::Bad);
    }

    fn ask(addr: std::net::SocketAddr, req: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        let _ = s.write_all(req);
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    #[test]
    fn serves_routes_and_refuses_the_rest() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let t = std::thread::spawn(move || {
            serve(l, st, |p| match p {
                "/healthz" => Response::text(200, "OK", "ok\n"),
                _ => Response::text(404, "Not Found", "not found\n"),
            })
        });
        let ok = ask(addr, b"GET /healthz HTTP/1.1\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("Connection: close\r\n") && ok.ends_with("\r\n\r\nok\n"), "{ok}");
        assert!(ask(addr, b"GET /x HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
        assert!(ask(addr, b"DELETE /healthz HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
        assert!(ask(addr, b"hello\r\n\r\n").starts_with("HTTP/1.1 400 "));
        let big = vec![b'a'; super::MAX_REQUEST + 10];
        assert!(ask(addr, &big).starts_with("HTTP/1.1 431 "));
        let head = ask(addr, b"HEAD /healthz HTTP/1.1\r\n\r\n");
        assert!(head.ends_with("Content-Length: 3\r\nConnection: close\r\n\r\n"), "{head}");
        stop.store(true, Ordering::Relaxed);
        t.join().unwrap();
    }
}
