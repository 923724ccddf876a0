//! Sans-IO HTTP/1.1 for the client side: the request writer and the response
//! framing helpers, used by the blocking client in `plain.rs`.

use super::{ClientConfig, HttpError, Method, Request};

/// Bodies up to this size are copied behind the head by [`write_request`]
/// (one write); a larger one is left out, to save the copy, and written by the
/// caller after the head ([`separate_body`]).
pub(crate) const INLINE_BODY_MAX: usize = 16 * 1024;

fn protocol(msg: &str) -> HttpError {
    HttpError::Protocol(msg.to_string())
}

/// Writes `req` as HTTP/1.1 into `out` (cleared first): the request head, then
/// the body if it is at most [`INLINE_BODY_MAX`] bytes. A larger body is left
/// out, for the caller to write after `out` ([`separate_body`]). Returns
/// whether the request's own headers ask for `Connection: close`.
pub(crate) fn write_request(
    cfg: &ClientConfig,
    req: &Request<'_>,
    out: &mut Vec<u8>,
) -> Result<bool, HttpError> {
    out.clear();
    out.extend_from_slice(req.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(req.url.path_and_query.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let (mut has_host, mut has_ua, mut close) = (false, false, false);
    for (name, value) in req.headers {
        if name.eq_ignore_ascii_case("host") {
            has_host = true;
        } else if name.eq_ignore_ascii_case("user-agent") {
            has_ua = true;
        } else if name.eq_ignore_ascii_case("connection") {
            close |= has_token(value, "close");
        }
    }
    if !has_host {
        out.extend_from_slice(b"Host: ");
        if req.url.is_ipv6() {
            out.push(b'[');
            out.extend_from_slice(req.url.host.as_bytes());
            out.push(b']');
        } else {
            out.extend_from_slice(req.url.host.as_bytes());
        }
        if !req.url.is_default_port() {
            out.push(b':');
            push_decimal(out, u64::from(req.url.port));
        }
        out.extend_from_slice(b"\r\n");
    }
    if !has_ua && !cfg.user_agent.is_empty() {
        out.extend_from_slice(b"User-Agent: ");
        out.extend_from_slice(cfg.user_agent.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !req.body.is_empty() || matches!(req.method, Method::Post | Method::Put | Method::Patch) {
        out.extend_from_slice(b"Content-Length: ");
        push_decimal(out, req.body.len() as u64);
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in req.headers {
        // Message framing is always the client's own.
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            continue;
        }
        check_header(name, value)?;
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if req.body.len() <= INLINE_BODY_MAX {
        out.extend_from_slice(req.body);
    }
    Ok(close)
}

/// The body [`write_request`] left out of its output (one larger than
/// [`INLINE_BODY_MAX`]): the caller writes it right after the head.
pub(crate) fn separate_body<'a>(req: &Request<'a>) -> Option<&'a [u8]> {
    (req.body.len() > INLINE_BODY_MAX).then_some(req.body)
}

/// Finds the end of a head: the first empty line. `from` is where the previous
/// search stopped (minus overlap). Returns the length including the blank line.
pub(super) fn find_head_end(data: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < data.len() {
        let nl = i + data[i..].iter().position(|&b| b == b'\n')?;
        match data.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') => match data.get(nl + 2) {
                Some(b'\n') => return Some(nl + 3),
                Some(_) => {}
                None => return None,
            },
            Some(_) => {}
            None => return None,
        }
        i = nl + 1;
    }
    None
}

/// Parses a chunk-size line (`1a;ext=1`).
pub(super) fn parse_chunk_size(line: &[u8]) -> Result<u64, HttpError> {
    let digits = match line.iter().position(|&b| b == b';') {
        Some(i) => &line[..i],
        None => line,
    };
    let digits = digits.trim_ascii();
    if digits.is_empty() || digits.len() > 15 {
        return Err(protocol("bad chunk size"));
    }
    let mut n: u64 = 0;
    for &b in digits {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return Err(protocol("bad chunk size")),
        };
        n = n * 16 + u64::from(d);
    }
    Ok(n)
}

/// What a response head says.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Head {
    pub(super) status: u16,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub(super) minor: u8,
    /// Header lines (after the status line), relative to the head start.
    pub(super) lines: (usize, usize),
    pub(super) content_length: Option<u64>,
    /// A `Transfer-Encoding` header was present.
    pub(super) te: bool,
    /// Its last coding is `chunked`.
    pub(super) chunked: bool,
    pub(super) conn_close: bool,
    pub(super) conn_keep_alive: bool,
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses a complete head (as found by [`find_head_end`]).
pub(super) fn parse_head(data: &[u8]) -> Result<Head, HttpError> {
    let nl = data
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| protocol("no status line"))?;
    let status_line = trim_cr(&data[..nl]);
    let rest = status_line
        .strip_prefix(b"HTTP/1.")
        .ok_or_else(|| protocol("status line does not start with HTTP/1.x"))?;
    let minor = match rest.first() {
        Some(b'0') => 0,
        Some(b'1'..=b'9') => 1,
        _ => return Err(protocol("bad HTTP version")),
    };
    let code = match rest.get(1..5) {
        Some([b' ', a, b, c]) if [a, b, c].iter().all(|d| d.is_ascii_digit()) => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return Err(protocol("bad status code")),
    };
    if code < 100 || !matches!(rest.get(5), None | Some(b' ')) {
        return Err(protocol("bad status code"));
    }
    let mut head = Head {
        status: code,
        minor,
        lines: (nl + 1, nl + 1),
        content_length: None,
        te: false,
        chunked: false,
        conn_close: false,
        conn_keep_alive: false,
    };
    let mut pos = nl + 1;
    while pos < data.len() {
        let len = data[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| protocol("unterminated header line"))?;
        let line = trim_cr(&data[pos..pos + len]);
        if line.is_empty() {
            break;
        }
        pos += len + 1;
        head.lines.1 = pos;
        if line[0] == b' ' || line[0] == b'\t' {
            continue; // obsolete line folding: kept in `head`, not interpreted
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| protocol("header line without ':'"))?;
        let name = &line[..colon];
        if name.is_empty() || name.iter().any(|&b| b <= b' ' || b == 0x7f) {
            return Err(protocol("bad header name"));
        }
        let value = line[colon + 1..].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") {
            for part in value.split(|&b| b == b',') {
                let n = parse_decimal(part.trim_ascii())
                    .ok_or_else(|| protocol("bad Content-Length"))?;
                if head.content_length.is_some_and(|m| m != n) {
                    return Err(protocol("conflicting Content-Length values"));
                }
                head.content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            head.te = true;
            let last = value.rsplit(|&b| b == b',').next().unwrap_or(b"");
            head.chunked = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    head.conn_close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    head.conn_keep_alive = true;
                }
            }
        }
    }
    Ok(head)
}

fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// Appends `n` in decimal without allocating.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn check_header(name: &str, value: &str) -> Result<(), HttpError> {
    let bad_name = name.is_empty() || name.bytes().any(|b| b <= b' ' || b == b':' || b == 0x7f);
    let bad_value = value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
    if bad_name || bad_value {
        return Err(HttpError::Protocol(format!(
            "invalid request header {name:?} (control character, space or ':' in name, CR/LF in value)"
        )));
    }
    Ok(())
}

fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn head_end_is_found_across_line_ending_styles() {
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\n\r\nbody", 0), Some(19));
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\n\nbody", 0), Some(17));
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\nA: b\r\n", 0), None);
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\n\r", 0), None);
        assert_eq!(find_head_end(b"", 0), None);
    }

    #[test]
    fn parses_head_fields() {
        let raw = b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\nConnection: Keep-Alive, close\r\nX: y\r\n\r\n";
        let h = parse_head(raw).unwrap();
        assert_eq!(h.status, 201);
        assert_eq!(h.minor, 1);
        assert_eq!(h.content_length, Some(5));
        assert!(h.conn_close && h.conn_keep_alive);
        assert_eq!(
            &raw[h.lines.0..h.lines.1],
            b"Content-Length: 5\r\nConnection: Keep-Alive, close\r\nX: y\r\n"
        );
        let h = parse_head(b"HTTP/1.0 200\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").unwrap();
        assert_eq!((h.status, h.minor, h.te, h.chunked), (200, 0, true, true));
    }

    #[test]
    fn rejects_bad_heads() {
        for raw in [
            &b"HTTP/2 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/1.1 099 OK\r\n\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n",
            b"garbage\r\n\r\n",
        ] {
            assert!(
                matches!(parse_head(raw), Err(HttpError::Protocol(_))),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(parse_chunk_size(b"1a").unwrap(), 26);
        assert_eq!(parse_chunk_size(b"FF;name=value").unwrap(), 255);
        assert_eq!(parse_chunk_size(b"0 ").unwrap(), 0);
        assert!(parse_chunk_size(b"").is_err());
        assert!(parse_chunk_size(b"xyz").is_err());
        assert!(parse_chunk_size(b"-1").is_err());
        assert!(parse_chunk_size(b"1234567890abcdef0").is_err());
    }

    #[test]
    fn decimal_formatting() {
        let mut v = Vec::new();
        for n in [0u64, 7, 10, 65535, u64::MAX] {
            v.clear();
            push_decimal(&mut v, n);
            assert_eq!(v, n.to_string().as_bytes());
        }
    }
}
