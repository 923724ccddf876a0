//! `multipart/form-data` request bodies (RFC 7578): text fields and files,
//! written part by part behind a boundary none of them contains.

/// One file part: its bytes read once, at validation.
#[derive(Clone)]
pub struct FilePart {
    /// The form field it is sent as.
    pub field: String,
    /// The `filename` the server sees.
    pub filename: String,
    pub content_type: String,
    pub bytes: std::sync::Arc<[u8]>,
}

impl std::fmt::Debug for FilePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilePart")
            .field("field", &self.field)
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// A boundary derived from the files' names and bytes (the same for the same
/// plan and files on every run, whatever the seed) that none of them
/// contains.
pub fn boundary_for(files: &[FilePart]) -> String {
    // FNV-1a over what is sent.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for f in files {
        eat(f.field.as_bytes());
        eat(f.filename.as_bytes());
        eat(&f.bytes);
    }
    let mut n = 0u32;
    loop {
        let b = format!("loaddensity-{h:016x}-{n}");
        if !files.iter().any(|f| contains(&f.bytes, b.as_bytes())) {
            return b;
        }
        n += 1;
    }
}

/// `boundary`, or a longer one none of `texts` contains (a longer boundary
/// starts with `boundary`, so files that lack it lack the longer one too).
pub fn boundary_beside(boundary: &str, texts: &[String]) -> String {
    let mut b = boundary.to_string();
    let mut n = 0u32;
    while texts.iter().any(|t| contains(t.as_bytes(), b.as_bytes())) {
        b = format!("{boundary}x{n}");
        n += 1;
    }
    b
}

/// Writes the parts: the text fields first, then the files, then the final
/// delimiter.
pub fn write(out: &mut Vec<u8>, boundary: &str, fields: &[(&str, &str)], files: &[FilePart]) {
    for (name, value) in fields {
        open_part(out, boundary, name, None);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for f in files {
        open_part(out, boundary, &f.field, Some(&f.filename));
        out.extend_from_slice(b"Content-Type: ");
        out.extend_from_slice(f.content_type.as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(&f.bytes);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"--\r\n");
}

fn open_part(out: &mut Vec<u8>, boundary: &str, name: &str, filename: Option<&str>) {
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"");
    quoted(out, name);
    out.push(b'"');
    if let Some(f) = filename {
        out.extend_from_slice(b"; filename=\"");
        quoted(out, f);
        out.push(b'"');
    }
    out.extend_from_slice(b"\r\n");
}

/// A name inside a quoted parameter: `"`, CR and LF percent-encoded, as
/// browsers do (WHATWG's multipart/form-data encoding).
fn quoted(out: &mut Vec<u8>, s: &str) {
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"%22"),
            b'\r' => out.extend_from_slice(b"%0D"),
            b'\n' => out.extend_from_slice(b"%0A"),
            _ => out.push(b),
        }
    }
}

/// The `Content-Type` of a file, guessed from its extension.
pub fn guess_type(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        _ => "application/octet-stream",
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_written_and_the_boundary_is_stable_and_absent() {
        let files = [FilePart {
            field: "doc".into(),
            filename: "a\"b.txt".into(),
            content_type: "text/plain".into(),
            bytes: b"hello\r\n--x".to_vec().into(),
        }];
        let b = boundary_for(&files);
        assert_eq!(b, boundary_for(&files), "deterministic");
        let mut out = Vec::new();
        write(&mut out, "B", &[("k", "v")], &files);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "--B\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\nv\r\n\
             --B\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a%22b.txt\"\r\n\
             Content-Type: text/plain\r\n\r\nhello\r\n--x\r\n--B--\r\n"
        );
        let clash = vec![format!("x{b}y")];
        let other = boundary_beside(&b, &clash);
        assert!(other.starts_with(&b) && !clash[0].contains(&other));
        assert_eq!(boundary_beside(&b, &["fine".into()]), b);
        assert_eq!(guess_type("x/y.PNG"), "image/png");
        assert_eq!(guess_type("noext"), "application/octet-stream");
    }
}
