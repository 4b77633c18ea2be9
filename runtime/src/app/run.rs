//! `main` of every generated pipeline: open the cache, restore state, serve the API, ingest.

use super::driver::Driver;
use super::{Args, Pipeline, Settings};
use crate::api::{serve, ApiState};
use crate::cache::Store;
use crate::sources::{CsvTableSpec, FileSource};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Runs the pipeline `P` until Ctrl-C (exit 0) or an error (logged, exit 1).
pub fn run<P: Pipeline>(settings: Settings) -> ExitCode {
    init_logging();
    let args = match Args::parse(&settings, std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run_with::<P>(&settings, &args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn run_with<P: Pipeline>(settings: &Settings, args: &Args) -> Result<(), String> {
    let db_path = args.database_path(settings.app_name);
    let (store, rebuilt) =
        Store::open_for(&db_path, settings.fingerprint).map_err(|e| e.to_string())?;
    if rebuilt {
        tracing::warn!(
            "the pipeline changed since {} was written; rebuilding the cache from the sources",
            db_path.display()
        );
    }
    store
        .create_tables(&P::tables())
        .map_err(|e| e.to_string())?;

    // Restore operator state and source positions from the last commit.
    let txn = store.begin_write().map_err(|e| e.to_string())?;
    let pipeline = P::restore(&txn).map_err(|e| e.to_string())?;
    let specs = with_overrides(P::sources(), &args.source_locations)?;
    let sources = specs
        .into_iter()
        .map(|spec| FileSource::restore(spec, &txn))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    txn.abort().map_err(|e| e.to_string())?;
    for source in &sources {
        tracing::info!(
            source = source.spec().source,
            files = source.ingested_files(),
            "restored"
        );
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let addr = format!("{}:{}", args.rest_host, args.rest_port);
    let listener = runtime.block_on(tokio::net::TcpListener::bind(&addr)).map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "cannot serve REST on {addr}: the port is in use; stop the other program or change `api.rest.port` (or pass --rest-port)"
        ),
        _ => format!("cannot serve REST on {addr}: {e}"),
    })?;
    tracing::info!("REST API on http://{addr}");

    let stop = Arc::new(AtomicBool::new(false));
    let driver = Driver {
        pipeline,
        sources,
        store: store.clone(),
        poll_interval: Duration::from_millis(args.poll_interval_ms),
        stop: stop.clone(),
    };
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let ingest = std::thread::Builder::new()
        .name("pipeline".into())
        .spawn(move || {
            let _ = done_tx.send(driver.run());
        })
        .map_err(|e| format!("cannot start the pipeline thread: {e}"))?;

    let endpoints = P::endpoints(&store);
    let state = ApiState {
        store,
        endpoints,
        app_name: settings.app_name,
    };
    let result = runtime.block_on(async move {
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(state, listener, async move {
            let _ = shutdown_rx.await;
        }));
        let outcome = tokio::select! {
            _ = shutdown_signal() => {
                tracing::info!("shutting down");
                Ok(())
            }
            finished = done_rx => match finished {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("pipeline stopped: {e}")),
                Err(_) => Err("the pipeline thread panicked".to_string()),
            },
        };
        let _ = shutdown_tx.send(());
        let _ = server.await;
        outcome
    });
    stop.store(true, Ordering::Relaxed);
    let _ = ingest.join();
    result
}

/// Applies `--source NAME=LOCATION` flags.
fn with_overrides(
    mut specs: Vec<CsvTableSpec>,
    overrides: &[(String, String)],
) -> Result<Vec<CsvTableSpec>, String> {
    let names: Vec<&str> = specs.iter().map(|s| s.source).collect();
    for (name, location) in overrides {
        let unknown = || {
            format!(
                "--source: no file source named `{name}` (sources: {})",
                names.join(", ")
            )
        };
        let spec = specs
            .iter_mut()
            .find(|s| s.source == name)
            .ok_or_else(unknown)?;
        // Leaked once at startup: specs hold `&'static str` like the generated constants.
        spec.location = Box::leak(location.clone().into_boxed_str());
    }
    Ok(specs)
}

/// Ctrl-C or SIGTERM: finish the current commit, then stop.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}
