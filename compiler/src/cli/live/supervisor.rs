//! The live loop: build the pipeline whenever its config changes, start the new build beside
//! the one serving, and switch over once the new one has its snapshot in. A config that does
//! not compile, a failed cargo build or a pipeline that never gets ready leaves the previous
//! pipeline serving; the page shows why.
//!
//! Each build runs with a cache of its own (`<home_dir>/live/gen-<n>`), since the previous
//! pipeline holds its cache open until it stops, and on free ports of its own; the live server
//! proxies the page's API calls to whichever pipeline is current.

use super::describe::{describe, Description};
use super::{BuildView, ErrorView, LiveOptions, PipelineView, Shared};
use crate::cli::build::build_with;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// How often the config file is looked at.
const WATCH_EVERY: Duration = Duration::from_millis(250);
/// How long a new pipeline may take to get its snapshot in before the build counts as failed.
const READY_WITHIN: Duration = Duration::from_secs(600);

/// A pipeline process of one build.
struct Running {
    child: Child,
    generation: u64,
    home: PathBuf,
    log: PathBuf,
    rest_port: u16,
    grpc_port: u16,
}

/// A build that compiled, ready to start.
struct Built {
    binary: PathBuf,
    description: Description,
    live_dir: PathBuf,
}

pub fn supervise(options: &LiveOptions, shared: &Shared, stop: &AtomicBool) {
    let mut current: Option<Running> = None;
    let mut built_stamp = None;
    let mut generation = 0;
    while !stop.load(Ordering::Relaxed) {
        let stamp = file_stamp(&options.config);
        if stamp != built_stamp {
            built_stamp = stamp;
            generation += 1;
            if let Some(next) = rebuild(options, shared, generation, stop) {
                if let Some(old) = current.take() {
                    stop_pipeline(old);
                }
                current = Some(next);
            }
        }
        if let Some(running) = current.as_mut() {
            if let Ok(Some(status)) = running.child.try_wait() {
                let message = format!("the pipeline exited ({status}); fix the config and save");
                set_build(shared, "failed", &message, Some(log_error(&running.log)));
                shared.lock().pipeline = None;
                current = None;
            }
        }
        std::thread::sleep(WATCH_EVERY);
    }
    if let Some(running) = current {
        stop_pipeline(running);
    }
}

/// Builds and starts generation `generation`; returns it once it is ready, or `None` (the
/// page then says why, and the previous pipeline goes on serving).
fn rebuild(
    options: &LiveOptions,
    shared: &Shared,
    generation: u64,
    stop: &AtomicBool,
) -> Option<Running> {
    set_build(shared, "building", "compiling the config", None);
    let built = match build(options) {
        Ok(built) => built,
        Err(error) => {
            set_build(shared, "failed", "the build failed", Some(error));
            return None;
        }
    };
    set_build(
        shared,
        "starting",
        "the new pipeline takes its snapshot",
        None,
    );
    let next = match start(&built, generation) {
        Ok(next) => next,
        Err(message) => {
            set_build(shared, "failed", &message, None);
            return None;
        }
    };
    match wait_ready(next, &options.config, stop) {
        Ok(next) => {
            let mut view = shared.lock();
            view.description = built.description;
            view.pipeline = Some(PipelineView {
                generation,
                rest_port: next.rest_port,
                rest_url: format!("http://127.0.0.1:{}", next.rest_port),
                grpc_address: format!("127.0.0.1:{}", next.grpc_port),
            });
            view.build = BuildView {
                state: "serving".into(),
                message: format!("generation {generation}"),
                error: None,
            };
            Some(next)
        }
        Err((failed, message)) => {
            let error = log_error(&failed.log);
            stop_pipeline(failed);
            set_build(shared, "failed", &message, Some(error));
            None
        }
    }
}

/// Compiles the config, emits the crate and builds it with cargo.
fn build(options: &LiveOptions) -> Result<Built, ErrorView> {
    let compiled =
        crate::compile_with(&options.config, options.catalog).map_err(|e| ErrorView {
            text: crate::diagnostics::render(&e),
            location: e.location(),
        })?;
    let description = describe(&compiled);
    let live_dir = compiled.config.home_dir().join("live");
    let crate_ = build_with(&options.config, None, options.catalog).map_err(|text| ErrorView {
        text,
        location: None,
    })?;
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()));
    cargo
        .args(["build", "--quiet", "--color", "never"])
        .current_dir(&crate_.out_dir)
        .env("CARGO_TARGET_DIR", &crate_.target_dir)
        .stdin(Stdio::null());
    if !options.dev {
        cargo.arg("--release");
    }
    let output = cargo.output().map_err(|e| ErrorView {
        text: format!("cannot run cargo: {e}"),
        location: None,
    })?;
    if !output.status.success() {
        return Err(ErrorView {
            text: format!(
                "cargo build failed in {}:\n{}",
                crate_.out_dir.display(),
                tail(&String::from_utf8_lossy(&output.stderr), 60)
            ),
            location: None,
        });
    }
    let profile = if options.dev { "debug" } else { "release" };
    Ok(Built {
        binary: crate_.target_dir.join(profile).join(&crate_.crate_name),
        description,
        live_dir,
    })
}

/// Starts the built pipeline on free ports, its cache in `live/gen-<generation>`.
fn start(built: &Built, generation: u64) -> Result<Running, String> {
    let home = built.live_dir.join(format!("gen-{generation}"));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).map_err(|e| format!("cannot create {}: {e}", home.display()))?;
    let log = home.join("pipeline.log");
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let stderr = log_file
        .try_clone()
        .map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    let (rest_port, grpc_port) = free_port_pair()?;
    let child = Command::new(&built.binary)
        .arg("--home-dir")
        .arg(&home)
        .args([
            "--rest-host",
            "127.0.0.1",
            "--rest-port",
            &rest_port.to_string(),
        ])
        .args([
            "--grpc-host",
            "127.0.0.1",
            "--grpc-port",
            &grpc_port.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", built.binary.display()))?;
    Ok(Running {
        child,
        generation,
        home,
        log,
        rest_port,
        grpc_port,
    })
}

/// Waits until the pipeline reports its snapshot in (`/health` `ready`). Gives up when it
/// exits, when it takes too long, when we are stopped, or when the config changes again (a
/// newer build then replaces it).
fn wait_ready(
    mut next: Running,
    config: &Path,
    stop: &AtomicBool,
) -> Result<Running, (Running, String)> {
    let started = Instant::now();
    let stamp = file_stamp(config);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let url = format!("http://127.0.0.1:{}/health", next.rest_port);
    loop {
        if let Ok(Some(status)) = next.child.try_wait() {
            return Err((next, format!("the new pipeline exited ({status})")));
        }
        let ready = agent
            .get(&url)
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_json::<serde_json::Value>().ok())
            .is_some_and(|health| health["ready"] == serde_json::Value::Bool(true));
        if ready {
            return Ok(next);
        }
        if stop.load(Ordering::Relaxed) {
            return Err((next, "stopped".into()));
        }
        if file_stamp(config) != stamp {
            return Err((next, "the config changed again; building that".into()));
        }
        if started.elapsed() > READY_WITHIN {
            let waited = READY_WITHIN.as_secs();
            return Err((
                next,
                format!("the new pipeline was not ready within {waited} s"),
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops a pipeline cleanly (SIGINT, as Ctrl-C would), killing it if it does not stop within
/// a few seconds, and removes its cache.
fn stop_pipeline(mut running: Running) {
    let _ = Command::new("kill")
        .args(["-INT", &running.child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = running.child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = running.child.kill();
    let _ = running.child.wait();
    say(&format!(
        "stopped pipeline generation {}",
        running.generation
    ));
    let _ = std::fs::remove_dir_all(&running.home);
}

/// A line in the terminal `dozerc live` runs in.
fn say(message: &str) {
    eprintln!("dozerc live: {message}");
}

fn set_build(shared: &Shared, state: &str, message: &str, error: Option<ErrorView>) {
    say(&format!("{state}: {message}"));
    let mut view = shared.lock();
    view.build = BuildView {
        state: state.into(),
        message: message.into(),
        error,
    };
}

/// The last lines of a pipeline's log, as the error the page shows.
fn log_error(log: &Path) -> ErrorView {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    ErrorView {
        text: tail(&text, 40),
        location: None,
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The config's size and modification time: a change means a save.
fn file_stamp(path: &Path) -> Option<(u64, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// Two distinct free ports: both are held while the second is chosen, so they never coincide.
fn free_port_pair() -> Result<(u16, u16), String> {
    let bind =
        || std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"));
    let port = |l: &std::net::TcpListener| {
        l.local_addr()
            .map(|a| a.port())
            .map_err(|e| format!("no free port: {e}"))
    };
    let (first, second) = (bind()?, bind()?);
    Ok((port(&first)?, port(&second)?))
}
