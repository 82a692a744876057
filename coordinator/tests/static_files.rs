//! Static files: `/`, folders, MIME types, and every way out of the folder.

#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::StatusCode;
use common::{TestApp, config, request, scratch_dir, static_dir, write};

const SECRET: &str = "secret outside the static folder";

/// A static folder next to a folder holding a secret, with symlinks from
/// one to the other.
fn app_with_outside_secret() -> TestApp {
    let base = scratch_dir("traversal");
    let web = base.join("web");
    let outside = base.join("outside");
    write(&web, "xdana.html", "<html>xdana</html>");
    write(&web, "inner/page.html", "<html>inner</html>");
    write(&outside, "secret.txt", SECRET);
    write(&outside, "index.html", SECRET);
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink(outside.join("secret.txt"), web.join("link-to-secret.txt")).unwrap();
        symlink(&outside, web.join("link-to-outside")).unwrap();
        symlink(web.join("inner/page.html"), web.join("link-inside.html")).unwrap();
    }
    TestApp::with_config(config(web))
}

#[tokio::test]
async fn root_serves_xdana_html() {
    let app = TestApp::new();
    let answer = app.get("/").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("text/html"));
    assert_eq!(answer.text(), "<html>xdana</html>");
    assert!(answer.header("content-length").is_some());
    answer.assert_contract_headers();
}

#[tokio::test]
async fn pages_and_assets_have_contract_mime_types() {
    let app = TestApp::new();
    let cases = [
        ("/worker.html", "text/html"),
        ("/app.js", "text/javascript"),
        ("/dana.wasm", "application/wasm"),
        ("/data.json", "application/json"),
        ("/style.css", "text/css"),
        ("/file_system.data", "application/octet-stream"),
    ];
    for (path, mime) in cases {
        let answer = app.get(path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(answer.header("content-type"), Some(mime), "{path}");
        answer.assert_contract_headers();
    }
}

#[tokio::test]
async fn folder_serves_its_index_html() {
    let app = TestApp::new();
    let answer = app.get("/docs/").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.text(), "<html>docs</html>");
    let redirect = app.get("/docs").await;
    assert_eq!(redirect.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(redirect.header("location"), Some("/docs/"));
    redirect.assert_contract_headers();
}

#[tokio::test]
async fn head_answers_headers_only() {
    let app = TestApp::new();
    let answer = app.send(request("HEAD", "/app.js", Body::empty())).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("text/javascript"));
    assert!(answer.body.is_empty());
}

#[tokio::test]
async fn missing_file_is_404_json_with_headers() {
    let app = TestApp::new();
    app.get("/nope.html")
        .await
        .assert_error(StatusCode::NOT_FOUND);
    app.get("/docs/nope/")
        .await
        .assert_error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_get_and_head_serve_files() {
    let app = TestApp::new();
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let answer = app.send(request(method, "/app.js", Body::from("x"))).await;
        answer.assert_error(StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn encoded_and_plain_parent_paths_are_404() {
    let app = app_with_outside_secret();
    let attempts = [
        "/../outside/secret.txt",
        "/inner/../../outside/secret.txt",
        "/%2e%2e/outside/secret.txt",
        "/%2E%2E/outside/secret.txt",
        "/..%2foutside%2fsecret.txt",
        "/..%2Foutside/secret.txt",
        "/inner/%2e%2e%2f%2e%2e%2foutside/secret.txt",
        "/.%2e/outside/secret.txt",
        "/%252e%252e/outside/secret.txt",
        "/%252e%252e%252foutside%252fsecret.txt",
        "/..%5coutside%5csecret.txt",
        "/%00/../outside/secret.txt",
        "/%c0%ae%c0%ae/outside/secret.txt",
    ];
    for path in attempts {
        let answer = app.get(path).await;
        assert!(!answer.text().contains(SECRET), "{path} leaked the secret");
        answer.assert_error(StatusCode::NOT_FOUND);
    }
    assert_eq!(app.get("/inner/page.html").await.status, StatusCode::OK);
    assert_eq!(
        app.get("/inner/../xdana.html").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn absolute_paths_are_404() {
    let app = app_with_outside_secret();
    let outside = app
        .state
        .config()
        .static_dir
        .parent()
        .unwrap()
        .join("outside/secret.txt");
    let absolute = outside.to_str().unwrap().to_owned();
    for path in [
        format!("/{absolute}"),
        format!("/%2F{}", absolute.trim_start_matches('/')),
        "//etc/passwd".to_owned(),
        "/%2Fetc%2Fpasswd".to_owned(),
    ] {
        let answer = app.get(&path).await;
        assert!(!answer.text().contains(SECRET), "{path} leaked the secret");
        answer.assert_error(StatusCode::NOT_FOUND);
    }
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_out_of_the_folder_are_404() {
    let app = app_with_outside_secret();
    for path in [
        "/link-to-secret.txt",
        "/link-to-outside/secret.txt",
        "/link-to-outside/",
        "/link-to-outside/index.html",
    ] {
        let answer = app.get(path).await;
        assert!(!answer.text().contains(SECRET), "{path} leaked the secret");
        answer.assert_error(StatusCode::NOT_FOUND);
    }
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_inside_the_folder_are_served() {
    let app = app_with_outside_secret();
    let answer = app.get("/link-inside.html").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.text(), "<html>inner</html>");
}

#[tokio::test]
async fn missing_static_folder_is_404_and_api_still_works() {
    let dir = static_dir().join("does-not-exist");
    let app = TestApp::with_config(config(dir));
    app.get("/").await.assert_error(StatusCode::NOT_FOUND);
    assert_eq!(app.get("/health").await.status, StatusCode::OK);
}
