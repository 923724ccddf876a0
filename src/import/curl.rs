//! cURL command lines (as a browser's "Copy as cURL (bash)" gives them) →
//! requests: a POSIX-shell word splitter ([`words`]) and curl's options.
//! Several commands in one text are one request each.

use super::{header, json_or_text, percent_encode, Body, Request};
use base64::Engine as _;
use serde_json::json;

/// A word of a command line, or the end of a command (an unquoted newline,
/// `;`, `&&`, `||` or `|`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Word {
    Text(String),
    End,
}

/// Splits shell text into words as bash would, without expanding anything:
/// '...' keeps everything, "..." keeps everything but `\"`, `\\`, `\$`,
/// `` \` `` and a `\`-newline, $'...' reads C escapes (`\n`, `\'`, `\xHH`,
/// `\uHHHH`, ...); outside quotes `\` takes the next character as it is and
/// `\`-newline continues the line; `#` at a word's start begins a comment.
pub(super) fn words(text: &str) -> Result<Vec<Word>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    let mut line = 1;
    let end_word = |out: &mut Vec<Word>, cur: &mut String, in_word: &mut bool| {
        if *in_word {
            out.push(Word::Text(std::mem::take(cur)));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') => line += 1,
                Some('\r') if chars.peek() == Some(&'\n') => {
                    chars.next();
                    line += 1;
                }
                Some(n) => {
                    cur.push(n);
                    in_word = true;
                }
                None => {}
            },
            '\'' => {
                in_word = true;
                let opened = line;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(n) => {
                            line += usize::from(n == '\n');
                            cur.push(n);
                        }
                        None => return Err(format!("line {opened}: a ' quote is never closed")),
                    }
                }
            }
            '"' => {
                in_word = true;
                let opened = line;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(n @ ('"' | '\\' | '$' | '`')) => cur.push(n),
                            Some('\n') => line += 1,
                            Some(n) => {
                                cur.push('\\');
                                cur.push(n);
                            }
                            None => {
                                return Err(format!("line {opened}: a \" quote is never closed"))
                            }
                        },
                        Some(n) => {
                            line += usize::from(n == '\n');
                            cur.push(n);
                        }
                        None => return Err(format!("line {opened}: a \" quote is never closed")),
                    }
                }
            }
            '$' if chars.peek() == Some(&'\'') => {
                chars.next();
                in_word = true;
                let opened = line;
                ansi_c(&mut chars, &mut cur, &mut line)
                    .map_err(|_| format!("line {opened}: a $' quote is never closed"))?;
            }
            '#' if !in_word => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        line += 1;
                        out.push(Word::End);
                        break;
                    }
                }
            }
            '\n' | ';' => {
                end_word(&mut out, &mut cur, &mut in_word);
                line += usize::from(c == '\n');
                out.push(Word::End);
            }
            '&' | '|' => {
                end_word(&mut out, &mut cur, &mut in_word);
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                out.push(Word::End);
            }
            c if c.is_whitespace() => end_word(&mut out, &mut cur, &mut in_word),
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    end_word(&mut out, &mut cur, &mut in_word);
    Ok(out)
}

/// The rest of a `$'...'` word (after the opening quote).
fn ansi_c(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    cur: &mut String,
    line: &mut usize,
) -> Result<(), String> {
    let hex = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, max: usize| {
        let mut s = String::new();
        while s.len() < max {
            match chars.peek() {
                Some(c) if c.is_ascii_hexdigit() => {
                    s.push(*c);
                    chars.next();
                }
                _ => break,
            }
        }
        u32::from_str_radix(&s, 16).ok()
    };
    loop {
        match chars.next() {
            Some('\'') => return Ok(()),
            Some('\\') => match chars.next() {
                Some('n') => cur.push('\n'),
                Some('t') => cur.push('\t'),
                Some('r') => cur.push('\r'),
                Some('0') => cur.push('\0'),
                Some('a') => cur.push('\u{7}'),
                Some('b') => cur.push('\u{8}'),
                Some('e' | 'E') => cur.push('\u{1b}'),
                Some('f') => cur.push('\u{c}'),
                Some('v') => cur.push('\u{b}'),
                Some('x') => cur.extend(hex(chars, 2).and_then(char::from_u32)),
                Some('u') => cur.extend(hex(chars, 4).and_then(char::from_u32)),
                Some('U') => cur.extend(hex(chars, 8).and_then(char::from_u32)),
                Some(n) => cur.push(n),
                None => return Err(format!("line {line}: a $' quote is never closed")),
            },
            Some(n) => {
                *line += usize::from(n == '\n');
                cur.push(n);
            }
            None => return Err(format!("line {line}: a $' quote is never closed")),
        }
    }
}

/// Options that take a value and mean nothing for a load test.
const IGNORED_WITH_VALUE: &[&str] = &[
    "-o",
    "--output",
    "--connect-timeout",
    "--retry",
    "--retry-delay",
    "--retry-max-time",
    "-w",
    "--write-out",
    "--limit-rate",
];

/// Options without a value that mean nothing for a load test (or are what
/// this tool does anyway: decode compressed bodies, follow redirects).
const IGNORED_FLAGS: &[&str] = &[
    "-s",
    "--silent",
    "-S",
    "--show-error",
    "-v",
    "--verbose",
    "-i",
    "--include",
    "-f",
    "--fail",
    "--fail-with-body",
    "-g",
    "--globoff",
    "--compressed",
    "-L",
    "--location",
    "--http1.1",
    "--http2",
    "--http2-prior-knowledge",
    "-#",
    "--progress-bar",
    "-N",
    "--no-buffer",
    "-Z",
    "--parallel",
];

/// Short options that take a value (`-XPOST` is `-X POST`).
const SHORT_WITH_VALUE: &str = "XHdubAemowF";

/// The curl commands of `text`, one request each.
pub(super) fn requests(text: &str, warnings: &mut Vec<String>) -> Result<Vec<Request>, String> {
    let words = words(text)?;
    let mut commands: Vec<Vec<String>> = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for w in words {
        match w {
            Word::End => commands.extend(current.take()),
            Word::Text(t) => match &mut current {
                Some(c) => c.push(t),
                None if t == "curl" || t.ends_with("/curl") => current = Some(Vec::new()),
                None => {
                    return Err(format!(
                        "expected a curl command, found {t:?} (command {})",
                        commands.len() + 1
                    ))
                }
            },
        }
    }
    commands.extend(current);
    commands
        .iter()
        .enumerate()
        .map(|(i, args)| {
            command(args, warnings).map_err(|e| format!("curl command {}: {e}", i + 1))
        })
        .collect()
}

/// `-sSL` as `-s -S -L` and `-XPOST` as `-X POST`: a cluster of short
/// options, the last of which may take the rest as its value.
fn expand(a: &str) -> Option<Vec<String>> {
    if a.len() <= 2 || !a.starts_with('-') || a.starts_with("--") {
        return None;
    }
    let mut out = Vec::new();
    for (i, c) in a[1..].char_indices() {
        out.push(format!("-{c}"));
        if SHORT_WITH_VALUE.contains(c) {
            let rest = &a[1 + i + c.len_utf8()..];
            if !rest.is_empty() {
                out.push(rest.to_string());
            }
            break;
        }
    }
    Some(out)
}

/// One curl command's arguments (after `curl`) as a request.
fn command(args: &[String], warnings: &mut Vec<String>) -> Result<Request, String> {
    let mut queue: std::collections::VecDeque<String> = args.iter().cloned().collect();
    let mut method: Option<String> = None;
    let mut url: Option<String> = None;
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut data: Vec<String> = Vec::new();
    let mut json_body: Option<String> = None;
    let mut get = false;
    let mut head = false;
    let mut extra = serde_json::Map::new();
    while let Some(a) = queue.pop_front() {
        if let Some(parts) = expand(&a) {
            for p in parts.into_iter().rev() {
                queue.push_front(p);
            }
            continue;
        }
        let mut value = |what: &str| queue.pop_front().ok_or_else(|| format!("{a} needs {what}"));
        match a.as_str() {
            "-X" | "--request" => method = Some(value("a method")?),
            "-H" | "--header" => {
                let h = value("a header")?;
                if h.starts_with('@') {
                    return Err(format!("{a} {h}: headers from a file are not read; write them as -H 'Name: value'"));
                }
                match h.split_once(':') {
                    Some((k, v)) => headers.push((k.trim().to_string(), v.trim().to_string())),
                    None => match h.strip_suffix(';') {
                        // `-H 'X-Empty;'` sends an empty header.
                        Some(k) => headers.push((k.trim().to_string(), String::new())),
                        None => warnings.push(format!("{a} {h:?} has no `:`: curl would remove that header; left out")),
                    },
                }
            }
            "-d" | "--data" | "--data-ascii" | "--data-binary" => {
                let d = value("data")?;
                if d.starts_with('@') {
                    return Err(format!("{a} {d}: data from a file is not read; put the body in the command (--data-raw)"));
                }
                data.push(if a == "--data-binary" { d } else { d.replace(['\r', '\n'], "") });
            }
            "--data-raw" => data.push(value("data")?),
            "--data-urlencode" => data.push(urlencode_data(&value("data")?)?),
            "--json" => {
                let d = value("JSON")?;
                if d.starts_with('@') {
                    return Err(format!("--json {d}: data from a file is not read; put the JSON in the command"));
                }
                json_body.get_or_insert_with(String::new).push_str(&d);
            }
            "-u" | "--user" => {
                let creds = value("user:password")?;
                let token = base64::engine::general_purpose::STANDARD.encode(creds.as_bytes());
                headers.push(("Authorization".into(), format!("Basic {token}")));
            }
            "-b" | "--cookie" => {
                let c = value("cookies")?;
                if c.contains('=') {
                    headers.push(("Cookie".into(), c));
                } else {
                    warnings.push(format!("{a} {c}: a cookie file is not read; left out"));
                }
            }
            "-A" | "--user-agent" => headers.push(("User-Agent".into(), value("a user agent")?)),
            "-e" | "--referer" => headers.push(("Referer".into(), value("a URL")?)),
            "-G" | "--get" => get = true,
            "-I" | "--head" => head = true,
            "-k" | "--insecure" => {
                extra.insert("verify".into(), json!(false));
            }
            "-m" | "--max-time" => {
                let s = value("seconds")?;
                let secs: f64 = s
                    .parse()
                    .map_err(|_| format!("{a} {s:?}: expected a number of seconds"))?;
                extra.insert("timeout".into(), json!(secs));
            }
            "--url" => url = Some(value("a URL")?),
            a if IGNORED_FLAGS.contains(&a) => {}
            a if IGNORED_WITH_VALUE.contains(&a) => {
                value("a value")?;
            }
            a if a.starts_with('-') && a.len() > 1 => {
                return Err(format!(
                    "unsupported curl option {a}: remove it from the command (the importer reads -X, -H, -d/--data*, --json, -u, -b, -A, -e, -G, -I, -k, -m, --url and ignores output options)"
                ))
            }
            _ => match &url {
                None => url = Some(a.to_string()),
                Some(u) => return Err(format!("a second URL {a:?} after {u:?}: one request per curl command")),
            },
        }
    }
    let mut url = url.ok_or("no URL")?;
    if !url.contains("://") {
        // curl's default scheme.
        url = format!("http://{url}");
    }
    let mut body = Body::None;
    if let Some(j) = &json_body {
        if header(&headers, "content-type").is_none() {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        if header(&headers, "accept").is_none() {
            headers.push(("Accept".into(), "application/json".into()));
        }
        body = json_or_text(j);
    }
    let joined = data.join("&");
    if !data.is_empty() && get {
        let sep = if url.contains('?') { '&' } else { '?' };
        url = format!("{url}{sep}{joined}");
    } else if !data.is_empty() {
        if json_body.is_some() {
            return Err("--json and -d/--data together: give the body once".into());
        }
        let ctype = header(&headers, "content-type").map(str::to_ascii_lowercase);
        body = match ctype {
            Some(t) if t.contains("json") => json_or_text(&joined),
            Some(_) => Body::Data(json!(joined)),
            None => {
                headers.push((
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                ));
                Body::Data(json!(joined))
            }
        };
    }
    let has_body = !matches!(body, Body::None);
    let method = match (method, head) {
        (Some(m), _) => m,
        (None, true) => "HEAD".into(),
        (None, false) if has_body => "POST".into(),
        (None, false) => "GET".into(),
    };
    Ok(Request {
        method: method.to_ascii_lowercase(),
        url,
        headers,
        body,
        extra,
        ..Default::default()
    })
}

/// One `--data-urlencode` argument as curl sends it: `name=content` →
/// `name=` + encoded content; `=content` and `content` → encoded content.
fn urlencode_data(arg: &str) -> Result<String, String> {
    if arg.starts_with('@') || (arg.contains('@') && !arg.contains('=')) {
        return Err(format!(
            "--data-urlencode {arg}: data from a file is not read"
        ));
    }
    Ok(match arg.split_once('=') {
        Some(("", content)) => percent_encode(content),
        Some((name, content)) => format!("{name}={}", percent_encode(content)),
        None => percent_encode(arg),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        words(s)
            .unwrap()
            .into_iter()
            .map(|w| match w {
                Word::Text(t) => t,
                Word::End => "<end>".into(),
            })
            .collect()
    }

    #[test]
    fn quotes_escapes_and_continuations() {
        assert_eq!(
            texts("curl 'http://h/a b' \\\n  -H \"X: \\\"q\\\" \\$HOME\" it\\'s"),
            ["curl", "http://h/a b", "-H", "X: \"q\" $HOME", "it's"]
        );
        assert_eq!(texts("a'b'\"c\"d"), ["abcd"]);
        assert_eq!(texts("''"), [""]);
        assert_eq!(texts("x \"a\\nb\""), ["x", "a\\nb"]);
    }

    #[test]
    fn ansi_c_quotes_read_escapes() {
        assert_eq!(
            texts(r#"--data-raw $'{"a":"it\'s\\n\u00e9\x41"}'"#),
            ["--data-raw", "{\"a\":\"it's\\n\u{e9}A\"}"]
        );
        assert_eq!(texts("$'tab\\there'"), ["tab\there"]);
    }

    #[test]
    fn newlines_and_separators_end_commands_and_comments_are_skipped() {
        assert_eq!(
            texts("curl a\n# a comment 'x\ncurl b; curl c && curl d | x"),
            [
                "curl", "a", "<end>", "<end>", "curl", "b", "<end>", "curl", "c", "<end>", "curl",
                "d", "<end>", "x"
            ]
        );
        assert_eq!(texts("a#b"), ["a#b"]);
    }

    #[test]
    fn unclosed_quotes_are_errors_with_their_line() {
        assert_eq!(
            words("curl\n'abc").unwrap_err(),
            "line 2: a ' quote is never closed"
        );
        assert!(words("\"abc").unwrap_err().contains("\" quote"));
        assert!(words("$'abc").unwrap_err().contains("$' quote"));
    }

    #[test]
    fn options_map_onto_a_request() {
        let mut w = Vec::new();
        let r = requests(
            "curl -sSL -XPUT 'http://h:1/a?x=1' -H 'Content-Type: application/json' \
             --data-raw '{\"k\": 1}' -u ann:pw -b 'sid=1; t=2' -A agent -e http://ref -k -m 2.5",
            &mut w,
        )
        .unwrap();
        assert_eq!(r.len(), 1);
        let r = &r[0];
        assert_eq!(r.method, "put");
        assert_eq!(r.url, "http://h:1/a?x=1");
        assert!(matches!(&r.body, Body::Json(v) if v == &json!({"k": 1})));
        assert_eq!(header(&r.headers, "authorization"), Some("Basic YW5uOnB3"));
        assert_eq!(header(&r.headers, "cookie"), Some("sid=1; t=2"));
        assert_eq!(header(&r.headers, "user-agent"), Some("agent"));
        assert_eq!(header(&r.headers, "referer"), Some("http://ref"));
        assert_eq!(r.extra["verify"], json!(false));
        assert_eq!(r.extra["timeout"], json!(2.5));
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn data_makes_a_form_post_and_get_moves_it_to_the_query() {
        let mut w = Vec::new();
        let r = requests(
            "curl h/echo -d a=1 --data-urlencode 'q=x y&z'\ncurl -G h/echo -d a=1 -d b=2\ncurl --json '{\"x\":[1]}' http://h/j",
            &mut w,
        )
        .unwrap();
        assert_eq!(r[0].method, "post");
        assert_eq!(r[0].url, "http://h/echo");
        assert!(matches!(&r[0].body, Body::Data(v) if v == "a=1&q=x%20y%26z"));
        assert_eq!(
            header(&r[0].headers, "content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(r[1].method, "get");
        assert_eq!(r[1].url, "http://h/echo?a=1&b=2");
        assert!(matches!(r[1].body, Body::None));
        assert_eq!(r[2].method, "post");
        assert!(matches!(&r[2].body, Body::Json(v) if v == &json!({"x": [1]})));
        assert_eq!(header(&r[2].headers, "accept"), Some("application/json"));
    }

    #[test]
    fn unknown_options_and_files_are_errors() {
        let mut w = Vec::new();
        let e = requests("curl http://h/ok\ncurl --frobnicate http://h", &mut w).unwrap_err();
        assert!(
            e.starts_with("curl command 2: unsupported curl option --frobnicate"),
            "{e}"
        );
        let e = requests("curl -d @body.json http://h", &mut w).unwrap_err();
        assert!(e.contains("data from a file is not read"), "{e}");
        let e = requests("wget http://h", &mut w).unwrap_err();
        assert!(e.contains("expected a curl command"), "{e}");
        let e = requests("curl -H", &mut w).unwrap_err();
        assert!(e.contains("-H needs a header"), "{e}");
        let e = requests("curl -s", &mut w).unwrap_err();
        assert!(e.contains("no URL"), "{e}");
    }
}
