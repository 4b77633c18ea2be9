//! What a run needs around it: the workspace's binaries in the harness's own profile, a Python
//! with DuckDB, wrk and pg_recvlogical, a scratch folder, and a description of the machine.

use crate::Sizes;
use anyhow::{bail, ensure, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The DuckDB release the snapshot peer runs (from PyPI).
const DUCKDB: &str = "duckdb==2.0.1";

pub struct Env {
    /// The workspace root.
    pub root: PathBuf,
    /// Pipelines, dozerc and the data generator are built in the harness's own profile.
    pub release: bool,
    /// Where the workspace's binaries are.
    bin_dir: PathBuf,
    /// The cargo target directory of emitted pipeline crates.
    pub pipelines_target: PathBuf,
    /// Scratch space: configs, crates, data, caches. Data is kept between runs.
    pub work: PathBuf,
    /// A Python with DuckDB.
    pub python: PathBuf,
    pub pg_recvlogical: PathBuf,
    pub wrk: PathBuf,
}

impl Env {
    pub fn prepare(sizes: &Sizes) -> Result<Env> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("the harness lives in the workspace")?
            .to_path_buf();
        let release = !cfg!(debug_assertions);
        let profile = if release { "release" } else { "debug" };
        // Absolute: emitted crates are built from their own folders.
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(|dir| root.join(dir))
            .unwrap_or_else(|| root.join("target"));
        let mut cargo = Command::new(cargo());
        cargo.args(["build", "--quiet"]).current_dir(&root);
        if sizes.quick {
            // The feature set of the test build (`cargo test --workspace --all-features`), so
            // after the tests in CI nothing compiles twice.
            cargo.args(["--workspace", "--all-features", "--bins"]);
        } else {
            cargo.args(["-p", "dozerc", "-p", "ecommerce-datagen"]);
        }
        if release {
            cargo.arg("--release");
        }
        run(&mut cargo, "building dozerc and the data generator")?;
        // A quick run shares the tests' pipeline target directory (its dependencies are built
        // already in CI); a full run has its own, emptied for the cold build.
        let pipelines_target = if sizes.quick {
            std::env::var_os("DOZER_TARGET_DIR")
                .map(|dir| root.join(dir))
                .unwrap_or_else(|| target.join("pipelines"))
        } else {
            target.join("bench-pipelines")
        };
        let work = target
            .join("bench")
            .join(if sizes.quick { "quick" } else { "full" });
        std::fs::create_dir_all(&work)?;
        let python = python_with_duckdb(&target.join("bench-venv"))?;
        Ok(Env {
            root,
            release,
            bin_dir: target.join(profile),
            pipelines_target,
            work,
            python,
            pg_recvlogical: postgres_tool("pg_recvlogical")?,
            wrk: which("wrk").context(
                "wrk is needed for the reads benchmark (Debian package `wrk`; .ci/run installs it)",
            )?,
        })
    }

    pub fn profile(&self) -> &'static str {
        if self.release {
            "release"
        } else {
            "debug"
        }
    }

    pub fn dozerc(&self) -> Command {
        Command::new(self.bin_dir.join("dozerc"))
    }

    pub fn datagen(&self) -> Command {
        Command::new(self.bin_dir.join("ecommerce-datagen"))
    }

    /// A fresh scratch folder under the work folder.
    pub fn scratch(&self, name: &str) -> Result<PathBuf> {
        let dir = self.work.join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }
}

pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Runs a command to completion, failing with its output if it fails.
pub fn run(command: &mut Command, what: &str) -> Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("{what}: cannot start {:?}", command.get_program()))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// [`run`] with a deadline: the command is killed, and the run fails, once `timeout` passes.
pub fn run_within(command: &mut Command, what: &str, timeout: std::time::Duration) -> Result<()> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("{what}: cannot start {:?}", command.get_program()))?;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            if status.success() {
                return Ok(());
            }
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                std::io::Read::read_to_string(&mut pipe, &mut stderr)?;
            }
            bail!("{what} failed ({status}):\n{stderr}");
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{what} did not finish within {} s", timeout.as_secs());
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn which(program: &str) -> Result<PathBuf> {
    let paths = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&paths)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .with_context(|| format!("`{program}` is not on PATH"))
}

/// A Postgres client program: on PATH, or in the server's bin folder (Debian keeps some there).
fn postgres_tool(program: &str) -> Result<PathBuf> {
    if let Ok(found) = which(program) {
        return Ok(found);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| dir.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    versions.sort();
    versions
        .into_iter()
        .rev()
        .map(|v| v.join("bin").join(program))
        .find(|p| p.is_file())
        .with_context(|| format!("`{program}` not found (it comes with the Postgres server)"))
}

/// A virtual environment with DuckDB, made once and reused.
fn python_with_duckdb(venv: &Path) -> Result<PathBuf> {
    let python = venv.join("bin").join("python");
    let has_duckdb = |python: &Path| {
        Command::new(python)
            .args([
                "-c",
                &format!(
                    "import duckdb; assert duckdb.__version__ == '{}'",
                    &DUCKDB[8..]
                ),
            ])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if python.is_file() && has_duckdb(&python) {
        return Ok(python);
    }
    run(
        Command::new("python3").arg("-m").arg("venv").arg(venv),
        "creating the benchmark's Python environment",
    )?;
    run(
        Command::new(venv.join("bin").join("pip")).args(["install", "--quiet", DUCKDB]),
        "installing DuckDB",
    )?;
    ensure!(
        has_duckdb(&python),
        "DuckDB did not install into {}",
        venv.display()
    );
    Ok(python)
}

/// One line about the machine, and the versions of everything measured.
pub fn describe_machine(env: &Env) -> Result<Vec<String>> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.trim().trim_end_matches(" kB").parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let version = |command: &mut Command| -> String {
        command
            .output()
            .ok()
            .map(|o| {
                let text = String::from_utf8_lossy(&o.stdout).into_owned()
                    + &String::from_utf8_lossy(&o.stderr);
                text.lines().next().unwrap_or("").trim().to_string()
            })
            .unwrap_or_default()
    };
    let duckdb =
        version(Command::new(&env.python).args(["-c", "import duckdb; print(duckdb.__version__)"]));
    Ok(vec![
        format!(
            "{model}, {cores} cores, {mem_gib:.0} GiB RAM, Linux {}",
            kernel.trim()
        ),
        format!(
            "{}; pipelines built with the `{}` profile",
            version(Command::new("rustc").arg("--version")),
            env.profile()
        ),
        format!(
            "peers: {}; DuckDB {duckdb}; {}; {}",
            version(Command::new(&env.pg_recvlogical).arg("--version")),
            version(Command::new(&env.wrk).arg("--version"))
                .split(" [")
                .next()
                .unwrap_or_default()
                .replace("debian/", ""),
            "axum 0.8 (the bare server)"
        ),
    ])
}
