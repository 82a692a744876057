//! Raw bytes from a client, through the real connection handling (the head
//! guard, hyper, the router and every middleware), to the answers written
//! back. Checks that nothing panics and that the bytes written are
//! well-formed HTTP/1.1 answers carrying the contract's headers, with a
//! JSON `{"error":"..."}` body on every 4xx and 5xx.
//!
//! Time is paused: timeouts (idle, head, body) fire as soon as both sides
//! wait, so every input ends.

#![no_main]

use std::net::SocketAddr;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use axum::Router;
use coordinator::config::Config;
use coordinator::forwarded::TrustedProxies;
use coordinator::server::{ConnectionRules, serve_connection};
use coordinator::{AppState, app};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The headers every answer must carry.
const CONTRACT_HEADERS: [(&str, &str); 5] = [
    ("access-control-allow-origin", "*"),
    ("access-control-allow-methods", "GET, POST, PUT, OPTIONS"),
    ("access-control-allow-headers", "Content-Type"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-embedder-policy", "require-corp"),
];

/// Inputs served by one app before a fresh one replaces it, so that its
/// queue does not stay full (503) for the rest of a long run.
const INPUTS_PER_APP: u32 = 2000;

struct World {
    runtime: tokio::runtime::Runtime,
    config: Config,
    app: Mutex<(Router, u32)>,
    rules: ConnectionRules,
}

impl World {
    /// The app to serve the next input with.
    fn router(&self) -> Router {
        let mut app = self.app.lock().unwrap_or_else(|p| p.into_inner());
        app.1 += 1;
        if app.1 > INPUTS_PER_APP {
            *app = (fresh_app(&self.runtime, &self.config), 1);
        }
        app.0.clone()
    }
}

/// An app with an empty queue.
fn fresh_app(runtime: &tokio::runtime::Runtime, config: &Config) -> Router {
    runtime.block_on(async {
        let state = AppState::new(config);
        app(config.clone(), state)
    })
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    let static_dir = std::env::temp_dir().join("coordinator-fuzz-web");
    let _ = std::fs::create_dir_all(&static_dir);
    let _ = std::fs::write(static_dir.join("xdana.html"), "<html>xdana</html>");
    let config = Config {
        static_dir,
        max_tasks: 10_000,
        max_body_bytes: 1 << 20,
        ..Config::default()
    };
    let router = fresh_app(&runtime, &config);
    let rules = ConnectionRules::new(Duration::from_secs(15), TrustedProxies::default());
    World {
        runtime,
        config,
        app: Mutex::new((router, 0)),
        rules,
    }
});

fuzz_target!(|input: &[u8]| {
    let world = &*WORLD;
    let router = world.router();
    let output = world.runtime.block_on(async {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let peer = SocketAddr::from(([192, 0, 2, 1], 4711));
        let served = tokio::spawn(serve_connection(
            server,
            peer,
            router,
            world.rules.clone(),
        ));
        let (mut reader, mut writer) = tokio::io::split(client);
        let send = async {
            let _ = writer.write_all(input).await;
            let _ = writer.shutdown().await;
        };
        let receive = async {
            let mut output = Vec::new();
            let _ = reader.read_to_end(&mut output).await;
            output
        };
        let ((), output) = tokio::join!(send, receive);
        let _ = served.await;
        output
    });
    if let Err(problem) = check_answers(&output) {
        panic!(
            "{problem}\ninput: {:?}\noutput: {:?}",
            String::from_utf8_lossy(input),
            String::from_utf8_lossy(&output)
        );
    }
});

/// Checks every answer in `bytes`, the whole output of one connection.
fn check_answers(mut bytes: &[u8]) -> Result<(), String> {
    while !bytes.is_empty() {
        let head_end = find(bytes, b"\r\n\r\n").ok_or("an answer head without its end")?;
        let head = std::str::from_utf8(&bytes[..head_end]).map_err(|_| "a head not UTF-8")?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        // hyper answers an HTTP/1.0 request in HTTP/1.0.
        let status: u16 = status_line
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let headers: Vec<(String, &str)> = lines
            .map(|line| {
                let (name, value) = line.split_once(':').ok_or("a header line without ':'")?;
                Ok((name.trim().to_ascii_lowercase(), value.trim()))
            })
            .collect::<Result<_, &str>>()?;
        let header = |name: &str| get(&headers, name);
        bytes = &bytes[head_end + 4..];
        if (100..200).contains(&status) {
            // `100 Continue`, written by hyper before the body is read.
            continue;
        }
        for (name, value) in CONTRACT_HEADERS {
            if header(name) != Some(value) {
                return Err(format!("{status} without {name}: {value}"));
            }
        }
        let dechunked;
        let body: &[u8] = if header("transfer-encoding").is_some() {
            let (body, rest) = dechunk(bytes)?;
            bytes = rest;
            dechunked = body;
            &dechunked
        } else {
            let length: usize = match header("content-length") {
                Some(value) => value.parse().map_err(|_| "bad content-length")?,
                None => 0,
            };
            let next_answer = bytes.starts_with(b"HTTP/1.1 ") || bytes.starts_with(b"HTTP/1.0 ");
            if length > 0 && (bytes.is_empty() || next_answer) {
                // The answer to a HEAD request: the length without the body.
                &[]
            } else {
                let body = bytes.get(..length).ok_or("an answer cut short")?;
                bytes = &bytes[length..];
                body
            }
        };
        check_body(status, &headers, body)?;
    }
    Ok(())
}

/// The value of header `name`.
fn get<'h>(headers: &'h [(String, &'h str)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, value)| *value)
}

/// Error answers are JSON `{"error":"..."}` (an answer to `HEAD` has no
/// body to look at).
fn check_body(status: u16, headers: &[(String, &str)], body: &[u8]) -> Result<(), String> {
    let head_only = body.is_empty() && get(headers, "content-length").is_some_and(|l| l != "0");
    if status < 400 || head_only {
        return Ok(());
    }
    if get(headers, "content-type") != Some("application/json") {
        return Err(format!(
            "{status} not JSON: {:?}",
            get(headers, "content-type")
        ));
    }
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("{status} body not JSON: {e}"))?;
    match json.get("error").and_then(|e| e.as_str()) {
        Some(message) if !message.is_empty() => Ok(()),
        _ => Err(format!("{status} body without an error message: {json}")),
    }
}

/// A chunked body and the bytes after it.
fn dechunk(mut bytes: &[u8]) -> Result<(Vec<u8>, &[u8]), String> {
    let mut body = Vec::new();
    loop {
        let line_end = find(bytes, b"\r\n").ok_or("a chunk size line without its end")?;
        let size_text = std::str::from_utf8(&bytes[..line_end]).map_err(|_| "bad chunk size")?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            let end = find(bytes, b"\r\n").ok_or("no end after the last chunk")?;
            return Ok((body, &bytes[end + 2..]));
        }
        let chunk = bytes.get(..size).ok_or("a chunk cut short")?;
        body.extend_from_slice(chunk);
        bytes = bytes.get(size + 2..).ok_or("a chunk without its CRLF")?;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
