//! A raw-TCP client that talks exactly as the Dana client stubs in `dana/` do.
//!
//! Dana's `net.http.HTTPRequest` (standard library, `components/net/http/HTTPRequest.dn`) is
//! strict about framing, so the coordinator is tested against a faithful copy of it rather than
//! against a forgiving Rust HTTP client:
//!
//! - [`request_bytes`] writes a request the way `HTTPRequest.handleRequest` builds it;
//! - [`exchange`] sends bytes and reads one answer the way `readHeaders` / `readContent` do,
//!   then reports whatever the server sent beyond what Dana reads ([`DanaAnswer::leftover`]);
//! - [`json_from_string_fields`] writes a body the way `JSONEncoder.jsonFromData` does;
//! - [`parse_document`] / [`JsonElement::get`] read a body the way `JSONParser` does;
//! - [`component::DanaCoordinator`] does what `dana/coordinator/Coordinator.dn` does with those
//!   answers, call by call, returning the same values and recording the same `lastError()`
//!   texts, and [`main_loop::MainAppLoop`] what `dana/app/MainAppLoop.dn` does, loop() call by
//!   loop() call, with its requests on threads of their own;
//! - [`WireBook`] reads the request blocks of `dana/wire/WIRE.md`, the one place that lists the
//!   bytes the component sends.
//!
//! It leaves the server itself to the tests that use it.

pub(crate) mod component;
pub(crate) mod main_loop;

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

/// How long to wait for the server before failing a read (a safety net, not a timing check).
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The requests listed in `dana/wire/WIRE.md`, by block name, as the bytes sent on the wire.
pub(crate) struct WireBook {
    requests: BTreeMap<String, Vec<u8>>,
}

impl WireBook {
    /// Reads every fenced block tagged `http NAME`: each line up to and including the first
    /// empty line is followed by CRLF; the lines after it are the body, joined by CRLF, with no
    /// line ending after the last one.
    ///
    /// # Panics
    /// On a block without the empty line that ends the head, or on a duplicate name: the
    /// document is a test fixture.
    pub(crate) fn parse(markdown: &str) -> Self {
        let mut requests = BTreeMap::new();
        let mut lines = markdown.lines();
        while let Some(line) = lines.next() {
            let Some(name) = line.strip_prefix("```http ") else {
                continue;
            };
            let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            let blank = block
                .iter()
                .position(|l| l.is_empty())
                .unwrap_or_else(|| panic!("block {name} has no empty line ending its head"));
            let mut bytes = Vec::new();
            for head_line in &block[..blank] {
                bytes.extend_from_slice(head_line.as_bytes());
                bytes.extend_from_slice(b"\r\n");
            }
            bytes.extend_from_slice(b"\r\n");
            bytes.extend_from_slice(block[blank + 1..].join("\r\n").as_bytes());
            let previous = requests.insert(name.trim().to_owned(), bytes);
            assert!(previous.is_none(), "block {name} appears twice");
        }
        Self { requests }
    }

    /// The bytes of block `name`.
    ///
    /// # Panics
    /// When the document has no such block.
    pub(crate) fn request(&self, name: &str) -> &[u8] {
        self.requests
            .get(name)
            .unwrap_or_else(|| panic!("dana/wire/WIRE.md has no block `http {name}`"))
    }

    /// The name of the block whose bytes are `request`, if there is one.
    pub(crate) fn name_of(&self, request: &[u8]) -> Option<&str> {
        self.requests
            .iter()
            .find(|(_, bytes)| bytes.as_slice() == request)
            .map(|(name, _)| name.as_str())
    }

    /// Names of all blocks, sorted.
    pub(crate) fn names(&self) -> Vec<&str> {
        self.requests.keys().map(String::as_str).collect()
    }
}

/// The value of `const TYPE NAME[] = VALUE` or `const int NAME = VALUE` in Dana source, with the
/// quotes of a string value removed.
pub(crate) fn dana_constant<'a>(source: &'a str, name: &str) -> Option<&'a str> {
    source.lines().find_map(|line| {
        let line = line.trim();
        let rest = line.strip_prefix("const ")?;
        let (declared, value) = rest.split_once('=')?;
        let declared_name = declared.split_whitespace().last()?.trim_end_matches("[]");
        (declared_name == name).then(|| value.trim().trim_matches('"'))
    })
}

/// The parts of a URL as `HTTPRequest.parseResource` cuts them.
struct ResourceParts<'a> {
    host_name: &'a str,
    resource: &'a str,
}

fn parse_resource(url: &str) -> ResourceParts<'_> {
    let url = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (host_and_port, resource) = match url.find('/') {
        Some(slash) => (&url[..slash], &url[slash..]),
        None => (url, "/"),
    };
    // the port is cut at the last ':' unless it belongs to a "::" of an IPv6 address
    let host_name = match host_and_port.rfind(':') {
        Some(colon) if colon != 0 && !host_and_port[..colon].ends_with(':') => {
            &host_and_port[..colon]
        }
        _ => host_and_port,
    };
    ResourceParts {
        host_name,
        resource,
    }
}

/// The request `HTTPRequest` writes for `method` on `url` with the caller's `headers` and, for
/// `POST`, `post_data`.
pub(crate) fn request_bytes(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    post_data: &[u8],
) -> Vec<u8> {
    let parts = parse_resource(url);
    let mut request = format!("{method} {} HTTP/1.1\r\n", parts.resource).into_bytes();
    let mut host_included = false;
    for (key, value) in headers {
        host_included |= key.eq_ignore_ascii_case("host");
        request.extend_from_slice(format!("{key}:{value}\r\n").as_bytes());
    }
    if method == "POST" {
        request.extend_from_slice(format!("content-length:{}\r\n", post_data.len()).as_bytes());
    }
    if !host_included {
        request.extend_from_slice(format!("host:{}\r\n", parts.host_name).as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    if method == "POST" {
        request.extend_from_slice(post_data);
    }
    request
}

/// The body `JSONEncoder.jsonFromData` writes for a `data` type whose fields are all `char[]`:
/// `{"K": "V", "K2": "V2"}`, values written as they are (no escaping).
pub(crate) fn json_from_string_fields(fields: &[(&str, &str)]) -> String {
    let inner: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("\"{key}\": \"{value}\""))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

/// One answer as `HTTPRequest` returns it, plus what it would not have read.
#[derive(Debug)]
pub(crate) struct DanaAnswer {
    /// The status line, e.g. `HTTP/1.1 200 OK`.
    pub(crate) status_line: String,
    /// `responseCode`: the status line's second word, or empty when it has fewer than three.
    pub(crate) response_code: String,
    /// Header names lower-cased, values trimmed, in the order received.
    pub(crate) headers: Vec<(String, String)>,
    /// The body as `readContent` reads it.
    pub(crate) content: Vec<u8>,
    /// Bytes the server sent after what Dana reads; Dana would never see them.
    pub(crate) leftover: Vec<u8>,
}

impl DanaAnswer {
    /// The first header named `key` (lower case), as `getHeaderValue` finds it.
    pub(crate) fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.content).into_owned()
    }
}

/// `TCPSocket.recv(n)`: blocks until `n` bytes came or the peer closed, returns what came.
fn recv(stream: &mut TcpStream, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; n];
    let mut got = 0;
    while got < n {
        match stream.read(&mut buf[got..])? {
            0 => break,
            read => got += read,
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// `recv(1)` as `readHeaders` uses it; Dana fails on a closed connection here.
fn recv_byte(stream: &mut TcpStream) -> io::Result<u8> {
    recv(stream, 1)?.first().copied().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed inside the headers",
        )
    })
}

fn read_head(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    while !buf.ends_with(b"\r\n\r\n") {
        buf.push(recv_byte(stream)?);
    }
    Ok(buf)
}

fn read_chunk_line(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    while !buf.ends_with(b"\r\n") {
        buf.push(recv_byte(stream)?);
    }
    Ok(buf)
}

/// `IntUtil.intFromString` for the non-negative decimal numbers used here.
fn int_from_string(text: &str) -> io::Result<usize> {
    text.parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("not a number: {text}")))
}

/// `readContent`: by `content-length`, else chunked, else nothing.
fn read_content(stream: &mut TcpStream, headers: &[(String, String)]) -> io::Result<Vec<u8>> {
    let value = |key: &str| {
        headers
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, v)| v.as_str())
    };
    if let Some(length) = value("content-length") {
        return recv(stream, int_from_string(length)?);
    }
    if value("transfer-encoding") != Some("chunked") {
        return Ok(Vec::new());
    }
    let mut content = Vec::new();
    loop {
        let line = read_chunk_line(stream)?;
        let line = String::from_utf8_lossy(&line);
        let size_text = line.trim().split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad chunk size {size_text}"),
            )
        })?;
        if size == 0 {
            recv(stream, 2)?;
            return Ok(content);
        }
        content.extend(recv(stream, size)?);
        recv(stream, 2)?;
    }
}

/// Splits the head as `readHeaders` does: lines cut on `\r` and `\n` with empty ones dropped,
/// each header cut at its first `:`, the name lower-cased and the value trimmed.
fn parse_head(head: &[u8]) -> (String, Vec<(String, String)>) {
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split(['\r', '\n']).filter(|l| !l.is_empty());
    let status_line = lines.next().unwrap_or("").to_owned();
    let headers = lines
        .map(|line| {
            let (key, value) = line.split_once(':').unwrap_or((line, ""));
            (key.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    (status_line, headers)
}

/// `responseCode` as `handleRequest` cuts it out of the status line.
fn response_code(status_line: &str) -> String {
    status_line
        .split_once(' ')
        .and_then(|(_, rest)| rest.split_once(' '))
        .map(|(code, _)| code.to_owned())
        .unwrap_or_default()
}

/// Connects to `addr`, writes `request` and reads one answer as `HTTPRequest` does. Dana then
/// disconnects; here the write side is shut first and everything the server still sends
/// before it closes is kept in [`DanaAnswer::leftover`].
///
/// # Errors
/// When the connection fails, or the answer ends inside its headers or has a bad chunk size.
pub(crate) fn exchange(addr: SocketAddr, request: &[u8]) -> io::Result<DanaAnswer> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.write_all(request)?;
    let head = read_head(&mut stream)?;
    let (status_line, headers) = parse_head(&head);
    let content = read_content(&mut stream, &headers)?;
    stream.shutdown(Shutdown::Write)?;
    let mut leftover = Vec::new();
    stream.read_to_end(&mut leftover)?;
    Ok(DanaAnswer {
        response_code: response_code(&status_line),
        status_line,
        headers,
        content,
        leftover,
    })
}

/// Kinds of `JSONElement` the parser produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonKind {
    /// `{...}`
    Object,
    /// `[...]`
    Array,
    /// `"..."`, kept as written between the quotes.
    String,
    /// A number, kept as its text.
    Number,
    /// `true` / `false`.
    Boolean,
    /// `null` (no value).
    Null,
}

/// A `JSONElement`: a name (for object members), a kind, a simple value or children.
#[derive(Debug, Clone)]
pub(crate) struct JsonElement {
    /// Member name inside an object, empty otherwise.
    pub(crate) name: String,
    /// What the element is.
    pub(crate) kind: JsonKind,
    /// Text of a string, number or boolean; `None` for null, objects and arrays.
    pub(crate) value: Option<String>,
    /// Members of an object or items of an array.
    pub(crate) children: Vec<JsonElement>,
}

impl JsonElement {
    /// `JSONParser.getValue`: the first member called `name` of an object.
    pub(crate) fn get(&self, name: &str) -> Option<&JsonElement> {
        if self.kind != JsonKind::Object {
            return None;
        }
        self.children.iter().find(|child| child.name == name)
    }

    /// The value of member `name`, `None` when absent or null.
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.get(name)?.value.as_deref()
    }

    /// The component's `fieldOfType`: the value of member `name` when it is of JSON kind
    /// `kind`, else `None`.
    pub(crate) fn field_of_kind(&self, name: &str, kind: JsonKind) -> Option<&str> {
        self.get(name)
            .filter(|e| e.kind == kind)
            .and_then(|e| e.value.as_deref())
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Punct(char),
    Str(String),
    Number(String),
    Literal(String),
}

fn is_token_start(c: char) -> bool {
    matches!(c, ':' | '{' | '}' | ',' | '"' | '[' | ']')
}

/// `consumeString`: the raw text up to the closing quote, a backslash skipping the next
/// character (`\uXXXX` its four hex digits too).
fn consume_string(chars: &[char], start: usize) -> Result<(Token, usize), String> {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let escaped = chars.get(i + 1).copied();
                match escaped {
                    Some('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't') => i += 2,
                    Some('u')
                        if i + 6 <= chars.len()
                            && chars[i + 2..i + 6].iter().all(char::is_ascii_hexdigit) =>
                    {
                        i += 6;
                    }
                    _ => return Err("Invalid escape character".to_owned()),
                }
            }
            '"' => {
                let text: String = chars[start + 1..i].iter().collect();
                return Ok((Token::Str(text), i + 1));
            }
            _ => i += 1,
        }
    }
    Err("Unterminated string".to_owned())
}

/// `consumeNumber`: the digits, sign, point and exponent of a JSON number.
fn consume_number(chars: &[char], start: usize) -> Result<(Token, usize), String> {
    let mut end = start;
    while end < chars.len() && !chars[end].is_whitespace() && !is_token_start(chars[end]) {
        end += 1;
    }
    let text: String = chars[start..end].iter().collect();
    let valid = text
        .strip_prefix('-')
        .unwrap_or(&text)
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit())
        && text.parse::<f64>().is_ok();
    if valid {
        Ok((Token::Number(text), end))
    } else {
        Err("Unknown number format".to_owned())
    }
}

/// `consumeToken`: a punctuation character or one of `true`, `false`, `null`.
fn consume_token(chars: &[char], start: usize) -> Result<(Token, usize), String> {
    if is_token_start(chars[start]) {
        return Ok((Token::Punct(chars[start]), start + 1));
    }
    for literal in ["true", "false", "null"] {
        let end = start + literal.len();
        if chars
            .get(start..end)
            .is_some_and(|s| s.iter().copied().eq(literal.chars()))
        {
            return Ok((Token::Literal(literal.to_owned()), end));
        }
    }
    Err(format!("Invalid token at {start}"))
}

fn tokenise(document: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = document.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let (token, next) = if c == '"' {
            consume_string(&chars, i)?
        } else if c.is_ascii_digit() || c == '-' {
            consume_number(&chars, i)?
        } else {
            consume_token(&chars, i)?
        };
        tokens.push(token);
        i = next;
    }
    Ok(tokens)
}

fn parse_value(tokens: &[Token], i: &mut usize, name: String) -> Result<JsonElement, String> {
    let token = tokens.get(*i).ok_or("Parse exception: expected a value")?;
    *i += 1;
    let simple = |kind, value| JsonElement {
        name: name.clone(),
        kind,
        value,
        children: Vec::new(),
    };
    Ok(match token {
        Token::Str(text) => simple(JsonKind::String, Some(text.clone())),
        Token::Number(text) => simple(JsonKind::Number, Some(text.clone())),
        Token::Literal(text) if text == "null" => simple(JsonKind::Null, None),
        Token::Literal(text) => simple(JsonKind::Boolean, Some(text.clone())),
        Token::Punct('{') => {
            let mut object = simple(JsonKind::Object, None);
            while tokens.get(*i) != Some(&Token::Punct('}')) {
                let Some(Token::Str(member)) = tokens.get(*i) else {
                    return Err("Parse exception: expected string".to_owned());
                };
                *i += 1;
                if tokens.get(*i) != Some(&Token::Punct(':')) {
                    return Err("Parse exception: expected ':'".to_owned());
                }
                *i += 1;
                object
                    .children
                    .push(parse_value(tokens, i, member.clone())?);
                if tokens.get(*i) == Some(&Token::Punct(',')) {
                    *i += 1;
                }
            }
            *i += 1;
            object
        }
        Token::Punct('[') => {
            let mut array = simple(JsonKind::Array, None);
            while tokens.get(*i) != Some(&Token::Punct(']')) {
                array.children.push(parse_value(tokens, i, String::new())?);
                if tokens.get(*i) == Some(&Token::Punct(',')) {
                    *i += 1;
                }
            }
            *i += 1;
            array
        }
        Token::Punct(c) => return Err(format!("Parse exception: unexpected '{c}'")),
    })
}

/// `JSONParser.parseDocument` for well-formed documents: the root must be an object or array;
/// string values keep their escapes as written.
///
/// # Errors
/// With the parser's exception text on malformed input.
pub(crate) fn parse_document(document: &str) -> Result<JsonElement, String> {
    let tokens = tokenise(document)?;
    if !matches!(tokens.first(), Some(Token::Punct('{' | '['))) {
        return Err("expected object or array as root element of document".to_owned());
    }
    parse_value(&tokens, &mut 0, String::new())
}
