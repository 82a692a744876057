//! Helpers shared by the integration tests: an app over a scratch static
//! folder, one-shot requests, and a server on a real socket.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod nginx;
pub mod process;
pub mod redis_server;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use coordinator::{AppState, Config, app};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The headers every answer must carry, lower-case name and value.
pub const CONTRACT_HEADERS: [(&str, &str); 5] = [
    ("access-control-allow-origin", "*"),
    ("access-control-allow-methods", "GET, POST, PUT, OPTIONS"),
    ("access-control-allow-headers", "Content-Type"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-embedder-policy", "require-corp"),
];

/// A fresh empty folder under the system's temp dir.
pub fn scratch_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!(
        "coordinator-test-{}-{name}-{n}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A static folder with the pages the contract names.
pub fn static_dir() -> PathBuf {
    let dir = scratch_dir("web");
    write(&dir, "xdana.html", "<html>xdana</html>");
    write(&dir, "worker.html", "<html>worker</html>");
    write(&dir, "app.js", "export const x = 1;");
    write(&dir, "dana.wasm", "\0asm");
    write(&dir, "data.json", "{}");
    write(&dir, "style.css", "body{}");
    write(&dir, "file_system.data", "bytes");
    write(&dir, "docs/index.html", "<html>docs</html>");
    dir
}

/// Writes `text` to `dir/name`, creating folders.
pub fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Whether a test that cannot run on Redis should stop here: it says so
/// (the test passes without checking anything on Redis, and prints why).
pub fn runs_on_embedded_only(test: &str, why: &str) -> bool {
    let on_redis = redis_for_tests().is_some();
    if on_redis {
        println!("{test}: not run against Redis: {why}");
    }
    on_redis
}

/// The Redis the tests run against, from `COORDINATOR_TEST_REDIS`.
pub fn redis_for_tests() -> Option<String> {
    std::env::var("COORDINATOR_TEST_REDIS")
        .ok()
        .filter(|s| !s.is_empty())
}

/// `config` on a fresh database of the tests' Redis, when there is one.
pub fn on_test_redis(config: &Config) -> Option<Config> {
    static NEXT_DB: AtomicUsize = AtomicUsize::new(1);
    let base = redis_for_tests()?;
    let db = NEXT_DB.fetch_add(1, Ordering::SeqCst);
    flush_db(&base, db);
    Some(Config {
        redis: Some(format!("{}/{db}", base.trim_end_matches('/'))),
        ..config.clone()
    })
}

/// Empties database `db` of the Redis at `base` (left over from an
/// earlier run).
fn flush_db(base: &str, db: usize) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("redis://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .write_all(format!("SELECT {db}\r\nFLUSHDB\r\n").as_bytes())
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0; 64];
    while !answer.ends_with(b"+OK\r\n+OK\r\n") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "Redis at {base} closed the connection");
        answer.extend_from_slice(&buf[..n]);
    }
}

/// A config serving `static_dir` with the default limits.
pub fn config(static_dir: PathBuf) -> Config {
    Config {
        static_dir,
        ..Config::default()
    }
}

/// A router and its state, for one-shot requests.
pub struct TestApp {
    pub state: AppState,
    pub router: Router,
}

impl TestApp {
    pub fn new() -> Self {
        Self::with_config(config(static_dir()))
    }

    /// An app with `config`, its tasks in memory; or, when
    /// `COORDINATOR_TEST_REDIS` names a Redis (`redis://127.0.0.1:PORT`,
    /// started with `--databases 512`), in a database of its own there
    /// ([`TestApp::on_redis`]).
    pub fn with_config(config: Config) -> Self {
        if let Some(config) = on_test_redis(&config) {
            return Self::on_redis(config);
        }
        let state = AppState::new(&config);
        let router = app(config, state.clone());
        Self { state, router }
    }

    /// An app whose tasks live in `config.redis`. Its connection is driven
    /// by a runtime of its own (kept for the rest of the test process), so
    /// that it can be made from a synchronous call inside a test's runtime.
    pub fn on_redis(config: Config) -> Self {
        let connecting = config.clone();
        let state = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let state = runtime.block_on(AppState::connect(&connecting)).unwrap();
            // The connection's tasks run on this runtime: keep it running.
            std::mem::forget(runtime);
            state
        })
        .join()
        .unwrap();
        let router = app(config, state.clone());
        Self { state, router }
    }

    /// Whether this app keeps its tasks in Redis (then tests that move the
    /// clock forward by hand cannot expire its leases: Redis keeps wall
    /// clock deadlines).
    pub fn on_shared_redis(&self) -> bool {
        redis_for_tests().is_some()
    }

    /// An app whose state is kept in `config`'s data directory (opened, and
    /// what it holds restored).
    pub fn open(config: Config) -> Result<Self, coordinator::StoreError> {
        let state = AppState::open(&config)?;
        let router = app(config, state.clone());
        Ok(Self { state, router })
    }

    /// Sends one request and collects the answer.
    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        Answer::read(response).await
    }

    pub async fn get(&self, uri: &str) -> Answer {
        self.send(request("GET", uri, Body::empty())).await
    }

    pub async fn post(&self, uri: &str, body: impl Into<Body>) -> Answer {
        self.send(request("POST", uri, body.into())).await
    }

    /// Submits `data` and returns the new task's id.
    pub async fn submit(&self, data: &str) -> u64 {
        let answer = self.post("/task", data.to_owned()).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        answer.json()["taskId"].as_u64().unwrap()
    }
}

/// A request with a method, uri and body.
pub fn request(method: &str, uri: &str, body: Body) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(body)
        .unwrap()
}

/// A collected answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub async fn read(response: Response<Body>) -> Self {
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes().to_vec();
        Self {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts every contract header is present with its value.
    pub fn assert_contract_headers(&self) {
        for (name, value) in CONTRACT_HEADERS {
            assert_eq!(
                self.header(name),
                Some(value),
                "header {name} on {:?}",
                self.status
            );
        }
    }

    /// Asserts a 4xx/5xx JSON `{"error":"..."}` answer with this status and
    /// returns the message.
    pub fn assert_error(&self, status: StatusCode) -> String {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert_eq!(self.header("content-type"), Some("application/json"));
        self.assert_contract_headers();
        let json = self.json();
        let object = json.as_object().unwrap();
        assert_eq!(object.len(), 1, "error answers hold only \"error\": {json}");
        let message = object["error"].as_str().unwrap().to_owned();
        assert!(!message.is_empty());
        message
    }
}

/// A coordinator serving on `127.0.0.1:0` in the background.
pub struct Server {
    pub addr: std::net::SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    pub handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(coordinator::serve(listener, config, async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            shutdown: Some(tx),
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Asks the server to shut down gracefully.
    pub fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A keep-alive HTTP/1 client.
pub type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<axum::body::Bytes>,
>;

pub fn client() -> Client {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

/// Sends one request over `client` and collects the answer.
pub async fn call(client: &Client, method: &str, url: &str, body: &str) -> Answer {
    let request = Request::builder()
        .method(method)
        .uri(url)
        .body(http_body_util::Full::new(axum::body::Bytes::from(
            body.to_owned(),
        )))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes().to_vec();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}
