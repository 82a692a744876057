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

    pub fn with_config(config: Config) -> Self {
        let state = AppState::new(&config);
        let router = app(config, state.clone());
        Self { state, router }
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
