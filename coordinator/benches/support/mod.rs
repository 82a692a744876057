//! What the load and cluster benchmarks share: the cycle's task and
//! result, a minimal keep-alive HTTP/1.1 client (the same for every server,
//! so that ratios compare servers, not clients), this process's CPU time,
//! and the number of client connections.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Task data sent by every cycle: a Dana-style matrix pair.
pub(crate) const TASK: &[u8] = br#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#;
/// Result sent by every cycle.
pub(crate) const RESULT: &[u8] = br#"{"result":"[[19,22],[43,50]]"}"#;

/// One keep-alive HTTP/1.1 connection.
pub(crate) struct Conn {
    pub(crate) stream: BufReader<TcpStream>,
    out: Vec<u8>,
    line: String,
    pub(crate) body: Vec<u8>,
}

impl Conn {
    pub(crate) async fn open(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: BufReader::new(stream),
            out: Vec::with_capacity(512),
            line: String::new(),
            body: Vec::new(),
        })
    }

    /// Sends one request and reads the answer; returns the status, the
    /// body is left in `self.body`.
    pub(crate) async fn call(&mut self, method: &str, path: &str, body: &[u8]) -> io::Result<u16> {
        self.out.clear();
        self.out.extend_from_slice(method.as_bytes());
        self.out.push(b' ');
        self.out.extend_from_slice(path.as_bytes());
        self.out.extend_from_slice(b" HTTP/1.1\r\nhost:bench\r\n");
        if method == "POST" {
            self.out
                .extend_from_slice(format!("content-length:{}\r\n", body.len()).as_bytes());
        }
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(body);
        self.stream.get_mut().write_all(&self.out).await?;

        self.line.clear();
        self.stream.read_line(&mut self.line).await?;
        let status: u16 = self
            .line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line {:?}", self.line)))?;
        let mut length = 0usize;
        loop {
            self.line.clear();
            if self.stream.read_line(&mut self.line).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let header = self.line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().map_err(io::Error::other)?;
            }
        }
        self.body.resize(length, 0);
        self.stream.read_exact(&mut self.body).await?;
        Ok(status)
    }
}

/// User plus system CPU seconds this process has used (Linux
/// `/proc/self/stat`; 0 elsewhere, and the per-CPU figures are then `inf`).
pub(crate) fn process_cpu_secs() -> f64 {
    static TICKS_PER_SEC: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let ticks_per_sec = *TICKS_PER_SEC.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100.0)
    });
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses): state is
    // field 3, utime 14 and stime 15.
    let Some(after_name) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return 0.0;
    };
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / ticks_per_sec
}

/// Reads `"taskId":N` from a JSON answer.
pub(crate) fn task_id(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?;
    let rest = &text[text.find("\"taskId\":")? + 9..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Concurrent client connections: `BENCH_CLIENTS` when it is a positive
/// number, `default` otherwise.
pub(crate) fn client_count(default: usize) -> usize {
    std::env::var("BENCH_CLIENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}
