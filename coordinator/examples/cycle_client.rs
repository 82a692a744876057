//! Drives a running coordinator with claim-and-answer cycles over
//! keep-alive connections: `POST /task` -> `GET /task/next` ->
//! `POST /task/N/result` -> `GET /result/N`, the cycle of the load
//! benchmark, from plain threads and blocking sockets so the client costs
//! the same whatever the server.
//!
//! `cargo run --release -p coordinator --example cycle_client -- ADDR CONNECTIONS CYCLES`
//!
//! Prints the cycles run and their rate; exits non-zero on any answer that
//! is not `200`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

/// Task data sent by every cycle: a Dana-style matrix pair.
const TASK: &[u8] = br#"{"A":"[[1,2],[3,4]]","B":"[[5,6],[7,8]]"}"#;
/// Its product, the result every cycle posts.
const RESULT: &[u8] = br#"{"result":"[[19,22],[43,50]]"}"#;

/// One keep-alive connection.
struct Conn {
    stream: BufReader<TcpStream>,
    out: Vec<u8>,
    line: String,
}

impl Conn {
    fn open(addr: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: BufReader::new(stream),
            out: Vec::new(),
            line: String::new(),
        })
    }

    /// Sends one request; the answer's body, or an error for any status
    /// but `200`.
    fn call(&mut self, method: &str, path: &str, body: &[u8]) -> io::Result<Vec<u8>> {
        self.out.clear();
        write!(
            self.out,
            "{method} {path} HTTP/1.1\r\nHost: coordinator\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )?;
        self.out.extend_from_slice(body);
        self.stream.get_mut().write_all(&self.out)?;
        self.line.clear();
        self.stream.read_line(&mut self.line)?;
        let status = self.line.get(9..12).unwrap_or_default().to_owned();
        let mut length = 0;
        loop {
            self.line.clear();
            self.stream.read_line(&mut self.line)?;
            if self.line == "\r\n" || self.line.is_empty() {
                break;
            }
            if let Some((name, value)) = self.line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().map_err(io::Error::other)?;
            }
        }
        let mut answer = vec![0; length];
        self.stream.read_exact(&mut answer)?;
        if status != "200" {
            return Err(io::Error::other(format!(
                "{method} {path}: {status} {}",
                String::from_utf8_lossy(&answer)
            )));
        }
        Ok(answer)
    }

    /// One claim-and-answer cycle.
    fn cycle(&mut self) -> io::Result<()> {
        self.call("POST", "/task", TASK)?;
        let lease = self.call("GET", "/task/next?workerId=cycle-client", b"")?;
        let id = task_id(&lease)?;
        self.call(
            "POST",
            &format!("/task/{id}/result?workerId=cycle-client"),
            RESULT,
        )?;
        self.call("GET", &format!("/result/{id}"), b"")?;
        Ok(())
    }
}

/// The `taskId` of a `task/next` answer.
fn task_id(answer: &[u8]) -> io::Result<u64> {
    let text = String::from_utf8_lossy(answer);
    let after = text
        .split_once("\"taskId\"")
        .map(|(_, rest)| rest.trim_start_matches([':', ' ']))
        .ok_or_else(|| io::Error::other(format!("no taskId in {text}")))?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().map_err(io::Error::other)
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, connections, cycles] = &args[..] else {
        eprintln!("usage: cycle_client ADDR CONNECTIONS CYCLES_PER_CONNECTION");
        std::process::exit(2);
    };
    let connections: usize = connections.parse().map_err(io::Error::other)?;
    let cycles: usize = cycles.parse().map_err(io::Error::other)?;
    let started = Instant::now();
    let threads: Vec<_> = (0..connections)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || -> io::Result<()> {
                let mut conn = Conn::open(&addr)?;
                (0..cycles).try_for_each(|_| conn.cycle())
            })
        })
        .collect();
    for thread in threads {
        thread
            .join()
            .map_err(|_| io::Error::other("a client thread panicked"))??;
    }
    let total = connections * cycles;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{total} cycles in {secs:.2} s ({:.0} cycles/s)",
        total as f64 / secs
    );
    Ok(())
}
