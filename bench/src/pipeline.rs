//! Emitting, compiling and running a pipeline the way a user does: `dozerc build`, then
//! `cargo build` of the emitted crate, then its binary with flags.

use crate::env::{cargo, run, Env};
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A compiled pipeline and what compiling it took.
#[derive(Clone)]
pub struct Built {
    pub binary: PathBuf,
    pub crate_dir: PathBuf,
    /// `dozerc build`: parse, plan, emit the crate.
    pub emit_seconds: f64,
    /// `cargo build` of the emitted crate.
    pub cargo_seconds: f64,
}

/// `dozerc build -c config -o crate_dir`, then `cargo build` in the harness's profile.
pub fn build(env: &Env, config: &Path, crate_dir: &Path) -> Result<Built> {
    let started = Instant::now();
    run(
        env.dozerc()
            .arg("build")
            .arg("-c")
            .arg(config)
            .arg("-o")
            .arg(crate_dir),
        "dozerc build",
    )?;
    let emit_seconds = started.elapsed().as_secs_f64();
    let cargo_seconds = cargo_build(env, crate_dir)?;
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml"))?;
    let name = manifest
        .lines()
        .find_map(|l| l.strip_prefix("name = \""))
        .and_then(|l| l.strip_suffix('"'))
        .context("the emitted Cargo.toml names its package")?;
    Ok(Built {
        binary: env.pipelines_target.join(env.profile()).join(name),
        crate_dir: crate_dir.to_path_buf(),
        emit_seconds,
        cargo_seconds,
    })
}

/// `cargo build` of an emitted crate in the harness's profile, into the shared target
/// directory: its seconds.
pub fn cargo_build(env: &Env, crate_dir: &Path) -> Result<f64> {
    let started = Instant::now();
    let mut cargo = Command::new(cargo());
    cargo
        .args(["build", "--quiet"])
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", &env.pipelines_target);
    if env.release {
        cargo.arg("--release");
    }
    run(&mut cargo, "cargo build of the emitted crate")?;
    Ok(started.elapsed().as_secs_f64())
}

/// `/health` of a running pipeline.
#[derive(Deserialize, Debug, Default)]
pub struct Health {
    /// Commits of source transactions.
    pub position: u64,
    /// Per Postgres connection, the LSN applied.
    #[serde(default)]
    pub postgres: BTreeMap<String, String>,
    /// Per file source, the files committed.
    #[serde(default)]
    pub files: BTreeMap<String, u64>,
}

/// CPU time and memory of a process, from `/proc`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcStats {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
}

/// A running pipeline process; stopped (SIGTERM) when dropped.
pub struct Pipeline {
    child: Option<Child>,
    pub rest_port: u16,
    pub started: Instant,
    log: PathBuf,
    http: ureq::Agent,
}

impl Pipeline {
    /// Starts `binary` with its cache in `home`, on free ports, with `extra` flags.
    pub fn start(binary: &Path, home: &Path, extra: &[String]) -> Result<Pipeline> {
        let rest_port = free_port()?;
        let mut grpc_port = free_port()?;
        while grpc_port == rest_port {
            grpc_port = free_port()?;
        }
        let log = home.with_extension("log");
        let log_file = std::fs::File::create(&log)?;
        let started = Instant::now();
        let child = Command::new(binary)
            .arg("--home-dir")
            .arg(home)
            .args(["--rest-host", "127.0.0.1", "--grpc-host", "127.0.0.1"])
            .args(["--rest-port", &rest_port.to_string()])
            .args(["--grpc-port", &grpc_port.to_string()])
            .args(["--poll-ms", "20"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Pipeline {
            child: Some(child),
            rest_port,
            started,
            log,
            http: http_agent(),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.rest_port)
    }

    /// `GET path`: the status and body.
    pub fn get(&self, path: &str) -> Result<(u16, String)> {
        let mut response = self.http.get(&self.url(path)).call()?;
        let status = response.status().as_u16();
        Ok((status, response.body_mut().read_to_string()?))
    }

    /// `POST path` with a JSON body: the status and body.
    pub fn post(&self, path: &str, json: &str) -> Result<(u16, String)> {
        let mut response = self
            .http
            .post(&self.url(path))
            .header("content-type", "application/json")
            .send(json)?;
        let status = response.status().as_u16();
        Ok((status, response.body_mut().read_to_string()?))
    }

    pub fn health(&self) -> Option<Health> {
        let (status, body) = self.get("/health").ok()?;
        (status == 200).then(|| serde_json::from_str(&body).ok())?
    }

    /// Polls `/health` until `done` holds; returns when it was first seen to hold.
    pub fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&Health) -> bool,
    ) -> Result<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(health) = self.health() {
                if done(&health) {
                    return Ok(Instant::now());
                }
            }
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!(
                        "the pipeline exited ({status}) before {what}:\n{}",
                        self.log_tail()
                    );
                }
            }
            if Instant::now() > deadline {
                bail!("timed out waiting for {what}:\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn stats(&self) -> ProcStats {
        self.child
            .as_ref()
            .map(|c| proc_stats(c.id()))
            .unwrap_or_default()
    }

    /// Stops the pipeline cleanly (SIGTERM, as Ctrl-C would) and waits for it to exit.
    pub fn stop(mut self) -> Result<()> {
        self.terminate()
    }

    fn terminate(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                child.kill()?;
                bail!("the pipeline did not stop on SIGTERM:\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        let _ = self.terminate();
    }
}

/// An HTTP client that reports every status as a status, with keep-alive.
pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// User plus system CPU time, resident and peak resident memory of a process.
pub fn proc_stats(pid: u32) -> ProcStats {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat(5): 12 and 13 after the name and state.
    let cpu_seconds = (ticks(11) + ticks(12)) / clock_ticks_per_second();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    ProcStats {
        cpu_seconds,
        rss_bytes: kib("VmRSS:"),
        peak_rss_bytes: kib("VmHWM:"),
    }
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Parses a Postgres LSN (`16/B374D848`) into a number.
pub fn parse_lsn(lsn: &str) -> Option<u64> {
    let (high, low) = lsn.split_once('/')?;
    Some((u64::from_str_radix(high, 16).ok()? << 32) | u64::from_str_radix(low, 16).ok()?)
}

/// `/sales_by_country` as served: each country and its total as text.
pub fn served_sales_by_country(pipeline: &Pipeline) -> Result<Vec<(String, String)>> {
    let (status, body) = pipeline.get("/sales_by_country?limit=1000")?;
    anyhow::ensure!(
        status == 200,
        "GET /sales_by_country answered {status}: {body}"
    );
    let served: Vec<serde_json::Value> = serde_json::from_str(&body)?;
    Ok(served
        .iter()
        .map(|r| {
            let total = match field(r, "TotalSales") {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let country = field(r, "Country").as_str().unwrap_or_default().to_string();
            (country, total)
        })
        .collect())
}

/// A field of a served JSON row, by name in any case (Postgres folds unquoted names to lower
/// case, so the same statement serves `country` over Postgres and `Country` over files).
pub fn field<'a>(row: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    row.as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .map_or(&serde_json::Value::Null, |(_, v)| v)
}
