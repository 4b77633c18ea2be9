//! `dozerc run`: emits, builds with cargo and runs the pipeline in the foreground; Ctrl-C (SIGINT
//! to the terminal's process group) stops both cleanly.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
}

/// The `/health` answer, or an empty string when nothing answers.
fn health(port: u16) -> String {
    use std::io::Write;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.write_all(b"GET /health HTTP/1.0\r\n\r\n");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

fn healthy(port: u16) -> bool {
    health(port).contains("SERVING")
}

#[test]
fn run_builds_serves_and_stops_on_ctrl_c() {
    let scratch = tempfile::tempdir().unwrap();
    let example = workspace().join("examples/ecommerce");
    std::fs::copy(
        example.join("dozer-config.yaml"),
        scratch.path().join("dozer-config.yaml"),
    )
    .unwrap();
    std::fs::create_dir_all(scratch.path().join("data/sales")).unwrap();
    std::fs::copy(
        example.join("data/sales/sales-0001.csv"),
        scratch.path().join("data/sales/sales-0001.csv"),
    )
    .unwrap();
    // Both listeners are held while the ports are read, so the two never coincide.
    let listener = || std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (first, second) = (listener(), listener());
    let (port, grpc_port) = (
        first.local_addr().unwrap().port(),
        second.local_addr().unwrap().port(),
    );
    drop((first, second));

    let mut child = Command::new(env!("CARGO_BIN_EXE_dozerc"))
        .args([
            "run",
            "--dev",
            "-c",
            "dozer-config.yaml",
            "--",
            "--rest-host",
            "127.0.0.1",
            "--rest-port",
            &port.to_string(),
            "--grpc-port",
            &grpc_port.to_string(),
        ])
        .current_dir(scratch.path())
        .env("DOZER_TARGET_DIR", workspace().join("target/pipelines"))
        .env("CARGO_INCREMENTAL", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(600);
    // Serving, and the sample file ingested (position 1).
    while !health(port).contains("\"position\":1") {
        assert!(
            child.try_wait().unwrap().is_none(),
            "dozerc run exited early"
        );
        assert!(
            Instant::now() < deadline,
            "the pipeline never served /health"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Ctrl-C in a terminal signals the whole foreground process group.
    let group = format!("-{}", child.id());
    assert!(Command::new("kill")
        .args(["-INT", "--", &group])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let mut out = String::new();
            let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut out));
            panic!("dozerc run did not stop on Ctrl-C:\n{out}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(status.success(), "exit {status}:\n{out}");
    assert!(out.contains("wrote crate `ecommerce`"), "{out}");
    assert!(
        out.contains("ingested") && out.contains("shutting down"),
        "{out}"
    );
    assert!(!healthy(port), "the pipeline is still serving after Ctrl-C");
    assert!(scratch.path().join(".dozer/cache/ecommerce.redb").exists());
}
