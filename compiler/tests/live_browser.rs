//! `dozerc live` in a real browser: Debian's Chromium, driven by playwright-core
//! (`tests/browser/live.mjs`), sees the pipeline graph, sees an endpoint's rows change after a
//! new source file, and runs a query in the API explorer. Then, without the browser: a config
//! that does not compile shows its error with its location while the previous pipeline keeps
//! serving, and the fixed config is served by a new generation. Screenshots are kept in
//! `target/live-screenshots/`.
//!
//! Needs `/usr/bin/chromium` (Debian's `chromium` package; `.ci/run` installs it) and Node.js;
//! playwright-core is installed into `tests/browser` from its lock file when missing.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET` on the live server: status and JSON body (`Null` when nothing answers).
fn get(port: u16, path: &str) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, serde_json::Value::Null);
    };
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let _ = stream.write_all(request.as_bytes());
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or_default())
}

/// Polls `/live/state` until `check` holds; panics with the last state after `timeout`.
fn wait_state(
    port: u16,
    timeout: Duration,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + timeout;
    loop {
        let (_, state) = get(port, "/live/state");
        if check(&state) {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "condition not met within {timeout:?}; state: {state}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn serving(generation: u64) -> impl Fn(&serde_json::Value) -> bool {
    move |s| s["build"]["state"] == "serving" && s["pipeline"]["generation"] == generation
}

/// `dozerc live`, stopped with SIGINT (as Ctrl-C) when dropped.
struct Live(Child);

impl Drop for Live {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// Node's modules for the browser script, installed from the lock file if missing.
fn browser_scripts() -> PathBuf {
    let dir = workspace().join("tests/browser");
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "the live page's browser test needs Debian's Chromium: apt-get install chromium (.ci/run does)"
    );
    if !dir.join("node_modules/playwright-core").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm (Node.js) runs");
        assert!(status.success(), "npm ci in tests/browser failed");
    }
    dir
}

/// A file of `rows` sales in the sample's shape, all in country `country`.
fn sales_file(sample: &Path, rows: usize, country: &str) -> String {
    let text = std::fs::read_to_string(sample).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for line in lines.take(rows) {
        let mut fields: Vec<&str> = line.split(',').collect();
        let last = fields.len() - 1;
        fields[last] = country;
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

#[test]
fn the_live_page_follows_the_pipeline_and_its_config() {
    let scripts = browser_scripts();
    let scratch = tempfile::tempdir().unwrap();
    let example = workspace().join("examples/ecommerce");
    let config = scratch.path().join("dozer-config.yaml");
    std::fs::copy(example.join("dozer-config.yaml"), &config).unwrap();
    let sales = scratch.path().join("data/sales");
    std::fs::create_dir_all(&sales).unwrap();
    let sample = example.join("data/sales/sales-0001.csv");
    std::fs::copy(&sample, sales.join("sales-0001.csv")).unwrap();

    let port = free_port();
    let _live = Live(
        Command::new(env!("CARGO_BIN_EXE_dozerc"))
            .args([
                "live",
                "--dev",
                "-c",
                "dozer-config.yaml",
                "--port",
                &port.to_string(),
            ])
            .current_dir(scratch.path())
            .env("DOZER_TARGET_DIR", workspace().join("target/pipelines"))
            .env("CARGO_INCREMENTAL", "0")
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap(),
    );
    wait_state(port, Duration::from_secs(900), serving(1));

    // The browser: graph, a row change after a new file, the explorer.
    let shots = workspace().join("target/live-screenshots");
    let mut node = Command::new("node")
        .arg("live.mjs")
        .arg(format!("http://127.0.0.1:{port}"))
        .arg(&shots)
        .current_dir(&scripts)
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut said = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        said.push(line.clone());
        if line.starts_with("READY") {
            // A new country: `sales_by_country` gains a row, the source ten.
            let file = scratch.path().join("staging.csv");
            std::fs::write(&file, sales_file(&sample, 10, "Atlantis")).unwrap();
            std::fs::rename(&file, sales.join("sales-0002.csv")).unwrap();
        }
    }
    let status = node.wait().unwrap();
    assert!(
        status.success() && said.iter().any(|l| l == "DONE"),
        "the browser script failed: {said:?}"
    );
    for shot in ["1-graph.png", "2-after-change.png", "3-explorer.png"] {
        assert!(shots.join(shot).exists(), "no screenshot {shot}");
    }

    // A config that does not compile: its error with its place, the old pipeline still serving.
    let good = std::fs::read_to_string(&config).unwrap();
    let broken = good.replace("SUM(Quantity) AS BuyCount", "SUM(Quantiy) AS BuyCount");
    assert_ne!(good, broken);
    std::fs::write(&config, &broken).unwrap();
    let state = wait_state(port, Duration::from_secs(60), |s| {
        s["build"]["state"] == "failed"
    });
    let error = &state["build"]["error"];
    assert!(
        error["text"]
            .as_str()
            .unwrap()
            .contains("unknown column `Quantiy`"),
        "{error}"
    );
    assert!(
        error["location"]
            .as_str()
            .unwrap()
            .starts_with("dozer-config.yaml:"),
        "{error}"
    );
    assert_eq!(
        state["pipeline"]["generation"], 1,
        "the previous pipeline still serves"
    );
    let (status, rows) = get(port, "/api/bestsellers?limit=1");
    assert_eq!(status, 200, "{rows}");

    // Fixed, with a new column: the next generation takes over.
    std::fs::write(
        &config,
        good.replace(
            "SUM(Quantity) AS BuyCount",
            "SUM(Quantity) AS BuyCount, COUNT(*) AS Lines",
        ),
    )
    .unwrap();
    wait_state(port, Duration::from_secs(600), |s| {
        s["build"]["state"] == "serving" && s["pipeline"]["generation"].as_u64() > Some(1)
    });
    let (status, rows) = get(port, "/api/bestsellers?limit=1");
    assert_eq!(status, 200, "{rows}");
    assert!(
        rows[0].get("Lines").is_some(),
        "the new generation serves the new column: {rows}"
    );
    let (_, metrics) = get(port, "/live/metrics");
    assert_eq!(metrics["rows"]["source:sales_data"], 10010.0, "{metrics}");
}
