//! The connection's bytes on their way to hyper: every request head is held
//! back until it is complete and [`head_check`](super::head_check) finds
//! that hyper will take it, so a malformed request is answered by this
//! server with the contract's JSON error instead of hyper's bare one. The
//! guard follows each body's framing (a length, or chunked) to know where
//! the next head starts, and passes body bytes through as they come.
//!
//! It also keeps time, since it sees every byte: a connection idle between
//! requests (nothing read or written, no request in the handler) for the
//! idle time is closed, and a head that does not arrive whole within the
//! head time is answered 408. Both times are shorter while connections run
//! short ([`ConnectionRules`]).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::chunked::ChunkScanner;
use super::connection::{ConnHandle, ConnectionRules};
use super::head_check::{self, Framing, MAX_HEAD_BYTES};
use crate::api::ApiError;

/// Bytes read from the socket at once while a head is awaited.
const READ_CHUNK: usize = 4096;

/// Where in the request stream the guard is.
#[derive(Debug)]
enum Phase {
    /// Between requests or inside a head.
    Head,
    /// Inside a body of this many bytes still to come.
    Length(u64),
    /// Inside a chunked body.
    Chunked(ChunkScanner),
    /// A body whose framing the guard cannot follow: bytes pass through,
    /// and the connection ends after this request.
    Passthrough,
    /// The head was refused or the connection timed out: hyper gets no
    /// more bytes.
    Stopped,
}

/// A socket whose request heads are checked before hyper reads them.
pub(crate) struct HeadGuard<IO> {
    io: IO,
    /// Bytes read from the socket, hyper's yet to be given at
    /// `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// How many bytes at `buf[start..]` hyper may have now.
    release: usize,
    phase: Phase,
    conn: ConnHandle,
    rules: ConnectionRules,
    /// When a byte last moved either way.
    last_activity: Instant,
    /// When the first byte of the head being read arrived.
    head_started: Option<Instant>,
    /// How many buffered bytes of the head have been looked at.
    scanned: usize,
    /// Whether the head's request line was found well formed.
    line_checked: bool,
    /// Armed at or before the deadline being watched.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<IO> HeadGuard<IO> {
    /// Guards `io`, reporting refusals to `conn`.
    pub(crate) fn new(io: IO, conn: ConnHandle, rules: ConnectionRules) -> Self {
        Self {
            io,
            buf: Vec::new(),
            start: 0,
            end: 0,
            release: 0,
            phase: Phase::Head,
            conn,
            rules,
            last_activity: Instant::now(),
            head_started: None,
            scanned: 0,
            line_checked: false,
            timer: None,
        }
    }

    /// The socket, for the answer to a refused head.
    pub(crate) fn into_inner(self) -> IO {
        self.io
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > 4 * READ_CHUNK {
                self.buf = Vec::new();
            }
        }
    }

    /// Stops giving hyper bytes and has the connection answer `error`.
    fn refuse(&mut self, error: ApiError) -> Poll<io::Result<()>> {
        tracing::debug!(%error, "request head refused");
        self.phase = Phase::Stopped;
        self.conn.refuse(error);
        Poll::Pending
    }

    /// Polls the timer for `deadline`: `Ready` once it has passed. An
    /// earlier timer that fires is re-armed for `deadline`.
    fn poll_deadline(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        loop {
            if Instant::now() >= deadline {
                return Poll::Ready(());
            }
            let timer = self
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if timer.deadline() > deadline {
                timer.as_mut().reset(deadline);
            }
            ready!(timer.as_mut().poll(cx));
            timer.as_mut().reset(deadline);
        }
    }

    /// Follows the body framing over the buffered bytes: marks those that
    /// belong to the body for release and moves on to the next head at
    /// its end.
    fn frame_buffered(&mut self) {
        let available = self.end - self.start;
        match &mut self.phase {
            Phase::Length(left) => {
                let take = (*left).min(available as u64);
                *left -= take;
                self.release = take as usize;
                if *left == 0 {
                    self.phase = Phase::Head;
                }
            }
            Phase::Chunked(scanner) => match scanner.scan(&self.buf[self.start..self.end]) {
                Ok(used) => {
                    self.release = used;
                    if scanner.is_done() {
                        self.phase = Phase::Head;
                    }
                }
                Err(_) => self.pass_through(available),
            },
            Phase::Passthrough => self.release = available,
            Phase::Head | Phase::Stopped => {}
        }
    }

    fn pass_through(&mut self, available: usize) {
        tracing::debug!("chunked framing the guard cannot follow; closing after this request");
        self.phase = Phase::Passthrough;
        self.release = available;
        self.conn.end_after_request();
    }
}

impl<IO: AsyncRead + Unpin> HeadGuard<IO> {
    /// Reads more of the socket into the buffer: the number of bytes read.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.start > 0 && self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < READ_CHUNK {
            let grown = (self.buf.len() * 2)
                .max(READ_CHUNK)
                .max(self.end + READ_CHUNK);
            self.buf.resize(grown, 0);
        }
        let mut read = ReadBuf::new(&mut self.buf[self.end..]);
        ready!(Pin::new(&mut self.io).poll_read(cx, &mut read))?;
        let n = read.filled().len();
        self.end += n;
        if n > 0 {
            self.last_activity = Instant::now();
        }
        Poll::Ready(Ok(n))
    }

    /// Whether the buffered bytes are worth reading as a head now: once
    /// the end of a head may be in them, or the request line is complete
    /// and not yet checked (so that a bad request line, an HTTP/0.9
    /// request, is answered at once). Each byte is looked at once, so a
    /// head trickled in byte by byte costs no more than one sent whole.
    fn worth_checking(&mut self) -> bool {
        let data = &self.buf[self.start..self.end];
        let from = self.scanned.saturating_sub(2).min(data.len());
        let fresh = &data[from..];
        self.scanned = data.len();
        if memchr::memmem::find(fresh, b"\n\r\n").is_some()
            || memchr::memmem::find(fresh, b"\n\n").is_some()
        {
            return true;
        }
        if self.line_checked || memchr::memchr(b'\n', fresh).is_none() {
            return false;
        }
        let text = data.iter().position(|b| !matches!(b, b'\r' | b'\n'));
        let line_done = text.is_some_and(|at| memchr::memchr(b'\n', &data[at..]).is_some());
        self.line_checked = line_done;
        line_done
    }

    /// Waits for the next head: `Ready(Ok(()))` without bytes ends the
    /// connection (the client closed it, or it stayed idle too long).
    fn poll_head(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.end > self.start && self.worth_checking() {
                match head_check::check(self.buffered()) {
                    Ok(Some(head)) => {
                        self.release = head.len;
                        self.head_started = None;
                        self.scanned = 0;
                        self.line_checked = false;
                        self.phase = match head.framing {
                            Framing::Empty => Phase::Head,
                            Framing::Length(n) => Phase::Length(n),
                            Framing::Chunked => Phase::Chunked(ChunkScanner::new()),
                        };
                        return Poll::Ready(Ok(()));
                    }
                    Ok(None) => {}
                    Err(error) => return self.refuse(error),
                }
            }
            if self.end - self.start > MAX_HEAD_BYTES {
                return self.refuse(ApiError::HeadersTooLarge);
            }
            match self.poll_fill(cx) {
                Poll::Ready(Ok(0)) => {
                    let only_blank_lines =
                        self.buffered().iter().all(|b| matches!(b, b'\r' | b'\n'));
                    if only_blank_lines {
                        self.phase = Phase::Stopped;
                        return Poll::Ready(Ok(()));
                    }
                    return self.refuse(ApiError::BadRequest(
                        "Malformed request: the connection closed inside the request head"
                            .to_owned(),
                    ));
                }
                Poll::Ready(Ok(_)) => {
                    self.head_started.get_or_insert(self.last_activity);
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return self.poll_head_timers(cx),
            }
        }
    }

    /// No byte came: times the idle connection or the unfinished head.
    fn poll_head_timers(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.head_started {
            Some(started) => {
                let allowed = self.rules.head_timeout();
                if self.poll_deadline(cx, started + allowed).is_ready() {
                    return self.refuse(ApiError::HeadTimeout(allowed.as_secs().max(1)));
                }
            }
            None => {
                let idle = self.rules.idle_timeout();
                // A request in the handler (a long poll) is not idleness:
                // the timer still runs, so that the connection is looked
                // at again once the answer is out.
                let active = self.conn.is_active();
                let deadline = if active {
                    Instant::now() + idle
                } else {
                    self.last_activity + idle
                };
                if self.poll_deadline(cx, deadline).is_ready() && !active {
                    tracing::debug!("closing an idle connection");
                    self.phase = Phase::Stopped;
                    return Poll::Ready(Ok(()));
                }
            }
        }
        Poll::Pending
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for HeadGuard<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.release > 0 {
                let n = this.release.min(out.remaining());
                out.put_slice(&this.buf[this.start..this.start + n]);
                this.consume(n);
                this.release -= n;
                return Poll::Ready(Ok(()));
            }
            if this.end > this.start && !matches!(this.phase, Phase::Head | Phase::Stopped) {
                this.frame_buffered();
                continue;
            }
            match &mut this.phase {
                Phase::Stopped => return Poll::Pending,
                Phase::Head => {
                    ready!(this.poll_head(cx))?;
                    if this.release == 0 {
                        // End of the connection.
                        return Poll::Ready(Ok(()));
                    }
                }
                Phase::Length(left) if out.remaining() as u64 <= *left => {
                    // Straight into hyper's buffer: nothing past the body
                    // can be read.
                    let before = out.filled().len();
                    ready!(Pin::new(&mut this.io).poll_read(cx, out))?;
                    let n = (out.filled().len() - before) as u64;
                    if n > 0 {
                        this.last_activity = Instant::now();
                        *left -= n;
                        if *left == 0 {
                            this.phase = Phase::Head;
                        }
                    }
                    return Poll::Ready(Ok(()));
                }
                Phase::Passthrough => {
                    let before = out.filled().len();
                    ready!(Pin::new(&mut this.io).poll_read(cx, out))?;
                    if out.filled().len() > before {
                        this.last_activity = Instant::now();
                    }
                    return Poll::Ready(Ok(()));
                }
                Phase::Length(_) | Phase::Chunked(_) => {
                    if ready!(this.poll_fill(cx))? == 0 {
                        // The client closed inside the body: hyper reports it.
                        return Poll::Ready(Ok(()));
                    }
                }
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for HeadGuard<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(&mut this.io).poll_write(cx, data))?;
        if written > 0 {
            this.last_activity = Instant::now();
        }
        Poll::Ready(Ok(written))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(&mut this.io).poll_write_vectored(cx, bufs))?;
        if written > 0 {
            this.last_activity = Instant::now();
        }
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
