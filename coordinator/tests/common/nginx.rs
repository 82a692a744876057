//! nginx (Debian's package) in the foreground with its files in a
//! temporary folder, running a server block the test hands it; stopped when
//! dropped. A machine without nginx fails the test that needs it, saying
//! what to install (`.ci/test.sh` installs it).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nginx.
pub struct Nginx {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    dir: PathBuf,
}

/// A free port of 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Nginx {
    /// Starts nginx with `http_block` (upstreams and servers; it must
    /// listen on `port`) inside a main context of its own.
    ///
    /// # Panics
    ///
    /// When nginx is not installed, exits, or does not accept connections
    /// within 10 s.
    pub fn start(http_block: &str, port: u16) -> Self {
        let dir = super::scratch_dir("nginx");
        let temp = |name: &str| format!("{name} {};", dir.join(name).display());
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {pid};\nerror_log {log} warn;\nevents {{}}\nhttp {{\n  access_log off;\n  {a} {b} {c} {d} {e}\n{http_block}\n}}\n",
            pid = dir.join("nginx.pid").display(),
            log = dir.join("error.log").display(),
            a = temp("client_body_temp_path"),
            b = temp("proxy_temp_path"),
            c = temp("fastcgi_temp_path"),
            d = temp("uwsgi_temp_path"),
            e = temp("scgi_temp_path"),
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let program = ["/usr/sbin/nginx", "nginx"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("nginx");
        let mut child = Command::new(program)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start nginx ({e}): install Debian's nginx (apt-get install nginx), as .ci/test.sh does")
            });
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = child.try_wait() {
                // It exited by itself: nothing left to wait for.
                let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                panic!("nginx exited ({status}): {log}");
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Self { child, addr, dir };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("nginx did not accept connections on {addr} within 10 s");
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
