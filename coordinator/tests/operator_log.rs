//! What the coordinator's log tells an operator about a split task: each
//! part's lease names its split task, its place and its cost, so that a
//! product's timeline (which worker took how much, and when it finished)
//! can be read from the log alone.

#![allow(clippy::unwrap_used)]

mod common;

use common::process::{Process, call};
use common::static_dir;

#[test]
fn a_parts_lease_is_logged_with_its_split_task_place_and_cost() {
    let args = ["--in-memory", "--split-min-flops", "1", "--max-parts", "2"];
    let process = Process::start(&args, &static_dir()).unwrap();
    let addr = process.addr;
    let data = br#"{"A":"[[1,2],[3,4],[5,6],[7,8]]","B":"[[1,0],[0,1]]"}"#;
    let (status, body) = call(addr, "POST", "/task", data).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    for worker in ["w1", "w2"] {
        let path = format!("/task/next?workerId={worker}");
        let (status, body) = call(addr, "GET", &path, b"").unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let leases = loop {
        let log = process.log_tail();
        let leases: Vec<String> = log
            .lines()
            .filter(|line| line.contains("task assigned"))
            .map(str::to_owned)
            .collect();
        if leases.len() == 2 || std::time::Instant::now() > deadline {
            break leases;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(leases.len(), 2, "{}", process.log_tail());
    for (line, place) in leases.iter().zip(["part=0", "part=1"]) {
        assert!(line.contains("split=1"), "{line}");
        assert!(line.contains(place), "{line}");
        // Two rows of a 2 x 2 product read with their text: a few
        // hundred flops, never zero.
        let gflop: f64 = line
            .split("gflop=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no cost in {line}"));
        assert!(gflop > 0.0 && gflop < 1e-3, "{line}");
    }
}
