//! The real `coordinator` binary in a child process, and a plain blocking
//! HTTP/1.1 client to talk to it.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running coordinator process.
pub struct Process {
    child: Child,
    pub addr: SocketAddr,
    /// Its last log lines, for failure messages.
    pub log: Arc<Mutex<VecDeque<String>>>,
}

/// How many log lines are kept.
const KEPT_LINES: usize = 200;

impl Process {
    /// Starts the binary on `127.0.0.1:0` with `args` (and the test static
    /// folder) and waits until it says where it listens; `Err` with its
    /// output when it exits first.
    pub fn start(args: &[&str], static_dir: &Path) -> Result<Self, String> {
        Self::start_under(&[], args, static_dir)
    }

    /// As [`Process::start`], run through `wrapper` (a command and its
    /// arguments that runs the rest, such as `prlimit --nofile=1024 --`).
    pub fn start_under(wrapper: &[&str], args: &[&str], static_dir: &Path) -> Result<Self, String> {
        Self::start_at(0, wrapper, args, static_dir)
    }

    /// As [`Process::start_under`], on `port` of 127.0.0.1 (`0`: a free one).
    pub fn start_at(
        port: u16,
        wrapper: &[&str],
        args: &[&str],
        static_dir: &Path,
    ) -> Result<Self, String> {
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(env!("CARGO_BIN_EXE_coordinator"));
                command
            }
            None => Command::new(env!("CARGO_BIN_EXE_coordinator")),
        };
        let mut child = command
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1", "--static-dir"])
            .arg(static_dir)
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        for stream in [Box::new(stdout) as Box<dyn Read + Send>, Box::new(stderr)] {
            let log = Arc::clone(&log);
            let port_tx = port_tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split("listening on http://").nth(1)
                        && let Some(addr) = rest.split_whitespace().next()
                        && let Ok(addr) = addr.parse::<SocketAddr>()
                    {
                        let _ = port_tx.send(addr);
                    }
                    let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                    if log.len() == KEPT_LINES {
                        log.pop_front();
                    }
                    log.push_back(line);
                }
            });
        }
        drop(port_tx);
        match port_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => Ok(Self { child, addr, log }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                Err(format!("did not start:\n{}", lines(&log)))
            }
        }
    }

    /// The process id (to read its memory from `/proc`).
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the process to exit, at most `limit`:
    /// its exit status and how long it took (`Err` when it did not exit in
    /// time; it is killed then).
    #[cfg(unix)]
    pub fn terminate(
        mut self,
        limit: Duration,
    ) -> Result<(std::process::ExitStatus, Duration), String> {
        let started = std::time::Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .map_err(|e| format!("kill: {e}"))?;
        if !sent.success() {
            return Err("kill -TERM failed".to_owned());
        }
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Ok((status, started.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(format!(
            "still running {limit:?} after SIGTERM:\n{}",
            self.log_tail()
        ))
    }

    /// The last log lines.
    pub fn log_tail(&self) -> String {
        lines(&self.log)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(log: &Mutex<VecDeque<String>>) -> String {
    let log = log.lock().unwrap_or_else(|p| p.into_inner());
    log.iter().cloned().collect::<Vec<_>>().join("\n")
}

/// One request on a fresh connection: the status and the body.
///
/// # Errors
///
/// Any I/O error (a refused connection, a connection cut mid-answer).
pub fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    call_on(stream, method, path, body)
}

/// [`call`] from address 127.0.0.`n` (another host, as the coordinator
/// sees it).
///
/// # Errors
///
/// Any I/O error (a refused connection, a connection cut mid-answer).
pub fn call_from(
    n: u8,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from(([127, 0, 0, n], 0)))?;
        let stream = tokio::time::timeout(Duration::from_secs(5), socket.connect(addr))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        stream.into_std()
    })?;
    stream.set_nonblocking(false)?;
    call_on(stream, method, path, body)
}

/// One request on `stream` and its whole answer.
fn call_on(
    mut stream: TcpStream,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&answer[..text_end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(answer.len() - text_end - 4);
    let body = answer[text_end + 4..].to_vec();
    if body.len() < length {
        return Err(std::io::Error::other("answer cut short"));
    }
    Ok((status, body))
}
