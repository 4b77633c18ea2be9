//! Building and running an emitted pipeline crate.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Builds are serialized: they share one target directory.
static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// The shared target directory of pipelines built by tests.
pub fn target_dir() -> PathBuf {
    std::env::var_os("DOZER_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target").join("pipelines"))
}

/// An emitted and compiled pipeline binary.
pub struct BuiltPipeline {
    pub binary: PathBuf,
    pub crate_dir: PathBuf,
}

/// Emits the crate for `config` into `out_dir` with `dozerc build` and compiles it (debug).
pub fn build(config: &Path, out_dir: &Path) -> anyhow::Result<BuiltPipeline> {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    std::env::set_var("DOZER_TARGET_DIR", target_dir());
    let built = dozerc::cli::build(config, Some(out_dir))
        .map_err(|e| anyhow::anyhow!("dozerc build failed:\n{e}"))?;
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet"])
        .current_dir(&built.out_dir)
        .env("CARGO_TARGET_DIR", target_dir())
        // Each test crate is built once: incremental state would only cost time and disk.
        .env("CARGO_INCREMENTAL", "0")
        .status()?;
    anyhow::ensure!(status.success(), "cargo build of the emitted crate failed");
    Ok(BuiltPipeline {
        binary: target_dir().join("debug").join(&built.crate_name),
        crate_dir: built.out_dir,
    })
}

/// Ports handed out by [`free_port`] in this process.
static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// A port nobody listens on right now, and never handed out before in this test process: a
/// pipeline's REST and gRPC ports, and those of tests running side by side, are chosen one
/// after the other before anything binds them, and the system may offer the same port twice.
pub fn free_port() -> u16 {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..100 {
        let Ok(port) = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
        else {
            continue;
        };
        if !handed_out.contains(&port) {
            handed_out.push(port);
            return port;
        }
    }
    panic!("no free port left that this test process has not handed out already")
}

/// A running pipeline process.
pub struct Running {
    child: Child,
    pub port: u16,
    /// The gRPC port.
    pub grpc_port: u16,
    pub log: PathBuf,
}

impl Running {
    /// Starts the binary with its cache in `home_dir` and waits until `/health` answers.
    pub fn start(binary: &Path, home_dir: &Path, port: u16) -> anyhow::Result<Running> {
        Running::start_with(binary, home_dir, port, &[])
    }

    /// As [`Running::start`], reading the named file sources from other folders.
    pub fn start_with(
        binary: &Path,
        home_dir: &Path,
        port: u16,
        sources: &[(&str, &Path)],
    ) -> anyhow::Result<Running> {
        Running::start_args(binary, home_dir, port, &source_args(sources))
    }

    /// As [`Running::start`], with more flags. The log is appended to, so it tells the whole
    /// story of a cache home across restarts.
    pub fn start_args(
        binary: &Path,
        home_dir: &Path,
        port: u16,
        extra: &[String],
    ) -> anyhow::Result<Running> {
        let log = home_dir.join(format!("pipeline-{port}.log"));
        std::fs::create_dir_all(home_dir)?;
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let grpc_port = free_port();
        let child = Command::new(binary)
            .args(base_args(home_dir, port))
            .args(["--grpc-port".to_string(), grpc_port.to_string()])
            .args(extra)
            .stdout(Stdio::from(log_file.try_clone()?))
            .stderr(Stdio::from(log_file))
            .spawn()?;
        let mut running = Running {
            child,
            port,
            grpc_port,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if crate::http::get(port, "/health").is_ok() {
                return Ok(running);
            }
            if let Some(status) = running.child.try_wait()? {
                anyhow::bail!("pipeline exited with {status}:\n{}", running.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        running.kill();
        anyhow::bail!("pipeline did not become healthy:\n{}", running.log_text())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The commit position the pipeline reports.
    pub fn position(&self) -> u64 {
        crate::http::get(self.port, "/health")
            .ok()
            .and_then(|v| v["position"].as_u64())
            .unwrap_or(0)
    }

    /// Waits until `check` holds, or fails with the log after `timeout`.
    pub fn wait_until(
        &self,
        timeout: Duration,
        mut check: impl FnMut() -> bool,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if check() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        anyhow::bail!(
            "condition not met within {timeout:?}; log:\n{}",
            self.log_text()
        )
    }

    /// Asks for a clean shutdown (SIGINT, as Ctrl-C) and waits for the exit status.
    pub fn stop(mut self) -> anyhow::Result<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        anyhow::bail!("pipeline did not stop on SIGINT")
    }

    /// The exit status, if the process has exited.
    pub fn try_exit(&mut self) -> anyhow::Result<Option<std::process::ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs the binary expecting it to fail quickly; returns its combined output.
pub fn run_expecting_failure(
    binary: &Path,
    home_dir: &Path,
    port: u16,
    sources: &[(&str, &Path)],
) -> anyhow::Result<String> {
    let out = Command::new(binary)
        .args(base_args(home_dir, port))
        .args(["--grpc-port".to_string(), free_port().to_string()])
        .args(source_args(sources))
        .output()?;
    anyhow::ensure!(!out.status.success(), "expected a failure, got success");
    Ok(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn base_args(home_dir: &Path, port: u16) -> Vec<String> {
    let home = home_dir.display().to_string();
    [
        "--home-dir",
        &home,
        "--rest-host",
        "127.0.0.1",
        "--rest-port",
        &port.to_string(),
        "--poll-ms",
        "50",
    ]
    .map(String::from)
    .to_vec()
}

fn source_args(sources: &[(&str, &Path)]) -> Vec<String> {
    sources
        .iter()
        .flat_map(|(name, dir)| ["--source".to_string(), format!("{name}={}", dir.display())])
        .collect()
}
