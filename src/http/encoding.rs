//! Response `Content-Encoding`: gzip and deflate bodies decoded (with
//! `flate2`) when something reads the body, never past a size cap.

use super::HttpError;
use std::io::Read;

/// What the client asks for unless a request names its own `Accept-Encoding`.
pub(crate) const ACCEPT_ENCODING: &str = "gzip, deflate";

/// Decodes `body`, encoded with `codings` (a `Content-Encoding` value, the
/// codings in the order they were applied), into `out` (cleared first).
/// Returns `false` when there is nothing to undo (no coding but
/// `identity`): `body` is the body as it is. gzip (`x-gzip`) and deflate (zlib-wrapped, or raw
/// as some servers send it) are decoded; anything else fails. A decoded body
/// over `limit` bytes fails: only `limit + 1` bytes are ever produced.
pub(crate) fn decode(
    codings: &str,
    body: &[u8],
    limit: u64,
    out: &mut Vec<u8>,
) -> Result<bool, HttpError> {
    let list: Vec<&str> = codings
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"))
        .collect();
    out.clear();
    match list[..] {
        [] => return Ok(false),
        // The usual case: straight into `out` (whose capacity is reused).
        [coding] => decode_one(coding, body, limit, out)?,
        // Codings were applied in order: undo them last to first.
        _ => {
            let mut input = body.to_vec();
            for coding in list.iter().rev() {
                out.clear();
                decode_one(coding, &input, limit, out)?;
                std::mem::swap(&mut input, out);
            }
            *out = input;
        }
    }
    Ok(true)
}

fn decode_one(coding: &str, input: &[u8], limit: u64, out: &mut Vec<u8>) -> Result<(), HttpError> {
    let cap = limit.saturating_add(1);
    let c = coding.to_ascii_lowercase();
    let res = match c.as_str() {
        "gzip" | "x-gzip" => flate2::read::MultiGzDecoder::new(input)
            .take(cap)
            .read_to_end(out),
        "deflate" if is_zlib(input) => flate2::read::ZlibDecoder::new(input)
            .take(cap)
            .read_to_end(out),
        "deflate" => flate2::read::DeflateDecoder::new(input)
            .take(cap)
            .read_to_end(out),
        _ => {
            return Err(HttpError::Decode(format!(
                "unsupported Content-Encoding {coding:?}"
            )))
        }
    };
    res.map_err(|e| HttpError::Decode(format!("bad {c} body: {e}")))?;
    if out.len() as u64 > limit {
        return Err(HttpError::Decode(format!(
            "decoded body larger than max_body_bytes ({limit} bytes)"
        )));
    }
    Ok(())
}

/// Whether `data` starts with a zlib header (RFC 1950: deflate method, and
/// the two bytes a multiple of 31).
fn is_zlib(data: &[u8]) -> bool {
    match data {
        [a, b, ..] => a & 0x0f == 8 && (u16::from(*a) << 8 | u16::from(*b)) % 31 == 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_deflate_and_identity_decode() {
        let mut out = Vec::new();
        decode("gzip", &gzip(b"hello"), 100, &mut out).unwrap();
        assert_eq!(out, b"hello");
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(b"zlib").unwrap();
        decode("Deflate", &z.finish().unwrap(), 100, &mut out).unwrap();
        assert_eq!(out, b"zlib");
        let mut d = DeflateEncoder::new(Vec::new(), Compression::default());
        d.write_all(b"raw").unwrap();
        decode("deflate", &d.finish().unwrap(), 100, &mut out).unwrap();
        assert_eq!(out, b"raw");
        assert_eq!(decode(" identity ", b"as is", 100, &mut out), Ok(false));
        // Two codings: gzip applied twice.
        decode("gzip, gzip", &gzip(&gzip(b"twice")), 100, &mut out).unwrap();
        assert_eq!(out, b"twice");
    }

    #[test]
    fn caps_unknown_codings_and_garbage_fail() {
        let mut out = Vec::new();
        let bomb = gzip(&vec![0u8; 1 << 20]);
        assert_eq!(
            decode("gzip", &bomb, 1000, &mut out),
            Err(HttpError::Decode(
                "decoded body larger than max_body_bytes (1000 bytes)".into()
            ))
        );
        assert!(out.len() <= 1001);
        decode("gzip", &gzip(&[7; 1000]), 1000, &mut out).unwrap();
        assert_eq!(out.len(), 1000);
        assert_eq!(
            decode("br", b"x", 10, &mut out),
            Err(HttpError::Decode(
                "unsupported Content-Encoding \"br\"".into()
            ))
        );
        assert!(matches!(
            decode("gzip", b"not gzip", 10, &mut out),
            Err(HttpError::Decode(m)) if m.starts_with("bad gzip body")
        ));
    }
}
