//! `main` of every generated pipeline: open the cache, restore state, serve the API, ingest.

use super::driver::{Driver, PostgresFeed};
use super::{Args, Pipeline, PipelineDef, Settings};
use crate::api::auth::{secret_from, SecretOrigin, SECRET_ENV};
use crate::api::{serve, ApiState, Auth};
use crate::cache::{read_source_lsn, replication_slot, Store};
use crate::events::ChangeFeed;
use crate::grpc::GrpcContext;
use crate::sources::{
    format_lsn, FileSource, LsnProgress, PgConnectionSpec, PgTableSpec, SourceSpec,
};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Stack of the pipeline thread (see where it is spawned).
const PIPELINE_STACK_BYTES: usize = 256 * 1024 * 1024;

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
    match run_with(PipelineDef::of::<P>(), &settings, &args) {
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
        // The replication library narrates every status update at info: keep it to warnings.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,pg_walstream=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(super::progress::LogWriter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn run_with(def: PipelineDef, settings: &Settings, args: &Args) -> Result<(), String> {
    // Before anything is opened: a bad secret is a configuration error, not a late surprise.
    let auth = api_auth(settings)?;
    let db_path = args.database_path(settings.app_name);
    if args.resnapshot && db_path.exists() {
        std::fs::remove_file(&db_path)
            .map_err(|e| format!("--resnapshot: cannot remove {}: {e}", db_path.display()))?;
        tracing::warn!("--resnapshot: rebuilding the cache from new snapshots of the sources");
    }
    let (store, rebuilt) =
        Store::open_for(&db_path, settings.fingerprint).map_err(|e| e.to_string())?;
    if rebuilt {
        tracing::warn!(
            "the pipeline changed since {} was written; rebuilding the cache from the sources",
            db_path.display()
        );
    }
    store
        .create_tables(&(def.tables)())
        .map_err(|e| e.to_string())?;

    // Restore operator state and source positions from the last commit.
    let txn = store.begin_write().map_err(|e| e.to_string())?;
    let pipeline = (def.restore)(&txn).map_err(|e| e.to_string())?;
    let specs = with_overrides((def.sources)(), &args.source_locations)?;
    let mut files = Vec::new();
    let mut postgres_tables = Vec::new();
    for (index, spec) in specs.into_iter().enumerate() {
        match spec {
            SourceSpec::Files(spec) => {
                let source = FileSource::restore(spec, &txn).map_err(|e| e.to_string())?;
                tracing::info!(
                    source = source.spec().source,
                    files = source.ingested_files(),
                    "restored"
                );
                crate::metrics::set_files_ingested(spec.source, source.ingested_files());
                files.push((index, source));
            }
            SourceSpec::Postgres { connection, table } => {
                postgres_tables.push((connection, index, table));
            }
        }
    }
    let specs = connection_overrides((def.connections)(), &args.connections)?;
    let connections =
        restore_connections(&txn, &db_path, specs, &postgres_tables).map_err(|e| e.to_string())?;
    // Stored now: slot names chosen for connections never snapshotted before.
    txn.commit().map_err(|e| e.to_string())?;

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
    let grpc_addr = format!("{}:{}", args.grpc_host, args.grpc_port);
    let grpc_addr: std::net::SocketAddr = grpc_addr
        .parse()
        .map_err(|_| format!("`{grpc_addr}` is not an address to serve gRPC on"))?;
    let grpc_listener = runtime.block_on(crate::grpc::bind(grpc_addr))?;
    tracing::info!("gRPC API on {grpc_addr}");
    let feed = ChangeFeed::new();

    let stop = Arc::new(AtomicBool::new(false));
    let progress: Arc<[(String, Arc<LsnProgress>)]> = connections
        .iter()
        .map(|c| (c.spec.name.clone(), c.progress.clone()))
        .collect();
    let postgres = start_postgres(&runtime, connections, &postgres_tables, &stop)?;
    if files.is_empty() {
        crate::metrics::set_files_caught_up();
    }
    let driver = Driver {
        pipeline,
        restore: def.restore,
        files,
        postgres,
        store: store.clone(),
        source_names: (def.sources)().iter().map(SourceSpec::name).collect(),
        poll_interval: Duration::from_millis(args.poll_interval_ms),
        stop: stop.clone(),
        feed: feed.clone(),
    };
    let status = {
        let (connections, stop) = (progress.to_vec(), stop.clone());
        std::thread::Builder::new()
            .name("status".into())
            .spawn(move || super::progress::status_line(connections, stop))
            .map_err(|e| format!("cannot start the status line: {e}"))?
    };
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let ingest = std::thread::Builder::new()
        .name("pipeline".into())
        // A generated `apply_<source>` runs every statement downstream of the source in one
        // frame: a pipeline of hundreds of statements (debug builds especially) outgrows the
        // default 2 MiB. The stack is reserved, not touched, until used.
        .stack_size(PIPELINE_STACK_BYTES)
        .spawn(move || {
            let _ = done_tx.send(driver.run());
        })
        .map_err(|e| format!("cannot start the pipeline thread: {e}"))?;

    let endpoints = (def.endpoints)(&store);
    let grpc_ctx = GrpcContext {
        store: store.clone(),
        feed,
        auth: auth.clone(),
    };
    let grpc_services = (def.grpc)(&grpc_ctx);
    let state = ApiState {
        store,
        endpoints,
        app_name: settings.app_name,
        connections: progress,
        auth,
    };
    let result = runtime.block_on(async move {
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let (grpc_shutdown_tx, grpc_shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(state, listener, async move {
            let _ = shutdown_rx.await;
        }));
        let mut grpc = tokio::spawn(crate::grpc::serve(
            grpc_ctx,
            grpc_services,
            grpc_listener,
            async move {
                let _ = grpc_shutdown_rx.await;
            },
        ));
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
            served = &mut grpc => match served {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e),
                Err(_) => Err("the gRPC server panicked".to_string()),
            },
        };
        let _ = shutdown_tx.send(());
        let _ = grpc_shutdown_tx.send(());
        let _ = server.await;
        if !grpc.is_finished() {
            // Open OnEvent streams never end by themselves: give calls a moment, then go.
            let _ = tokio::time::timeout(Duration::from_secs(1), &mut grpc).await;
        }
        outcome
    });
    stop.store(true, Ordering::Relaxed);
    let _ = ingest.join();
    let _ = status.join();
    // Readers notice `stop` within their poll interval; give them a moment to close their
    // replication sessions cleanly, so a restart finds the slot free.
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

/// The APIs' security: the secret of `DOZER_JWT_SECRET` or the config, or none. Logs where
/// the secret came from, never the secret.
fn api_auth(settings: &Settings) -> Result<Auth, String> {
    let env = std::env::var_os(SECRET_ENV)
        .map(|value| {
            value
                .into_string()
                .map_err(|_| format!("{SECRET_ENV} is not valid UTF-8"))
        })
        .transpose()?;
    Ok(match secret_from(settings.jwt_secret, env)? {
        Some((secret, origin)) => {
            let from = match origin {
                SecretOrigin::Environment => SECRET_ENV,
                SecretOrigin::Config => "api.api_security",
            };
            tracing::info!("JWT security on (secret from {from}): requests need a bearer token");
            Auth::new(Some(&secret))
        }
        None => Auth::new(None),
    })
}

/// A Postgres connection as restored from the cache.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
struct RestoredConnection {
    spec: PgConnectionSpec,
    slot: String,
    resume_from: Option<u64>,
    progress: Arc<LsnProgress>,
}

/// Reads each Postgres connection's slot and stored position (choosing a slot name for one
/// never snapshotted).
fn restore_connections(
    txn: &redb::WriteTransaction,
    db_path: &std::path::Path,
    specs: Vec<PgConnectionSpec>,
    tables: &[(usize, usize, PgTableSpec)],
) -> Result<Vec<RestoredConnection>, crate::cache::StoreError> {
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    let mut restored = Vec::new();
    for spec in specs {
        let slot = replication_slot(txn, &spec.name, || slot_name(db_path, &spec))?;
        let resume_from = read_source_lsn(txn, &spec.name)?;
        tracing::info!(
            connection = spec.name.as_str(),
            slot = slot.as_str(),
            resume_from = resume_from.map(format_lsn),
            "restored"
        );
        restored.push(RestoredConnection {
            progress: Arc::new(LsnProgress::new(resume_from.unwrap_or(0))),
            spec,
            slot,
            resume_from,
        });
    }
    Ok(restored)
}

/// Applies `--connection NAME=URL` flags.
fn connection_overrides(
    mut specs: Vec<PgConnectionSpec>,
    overrides: &[(String, String)],
) -> Result<Vec<PgConnectionSpec>, String> {
    for (name, url) in overrides {
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        let unknown = format!(
            "--connection: no Postgres connection named `{name}` (connections: {})",
            names.join(", ")
        );
        let spec = specs.iter_mut().find(|s| s.name == *name).ok_or(unknown)?;
        override_connection(spec, url)?;
    }
    Ok(specs)
}

#[cfg(feature = "postgres")]
fn override_connection(spec: &mut PgConnectionSpec, url: &str) -> Result<(), String> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| format!("--connection {}: not a Postgres URL: {e}", spec.name))?;
    if let Some(tokio_postgres::config::Host::Tcp(host)) = config.get_hosts().first() {
        spec.host = host.clone();
    }
    if let Some(port) = config.get_ports().first() {
        spec.port = *port;
    }
    if let Some(user) = config.get_user() {
        spec.user = user.to_string();
    }
    if let Some(password) = config.get_password() {
        spec.password = Some(String::from_utf8_lossy(password).into_owned());
    }
    if let Some(database) = config.get_dbname() {
        spec.database = database.to_string();
    }
    // Only when the URL says: the driver cannot tell its default from an explicit `prefer`.
    if url.contains("sslmode") {
        spec.ssl_mode = match config.get_ssl_mode() {
            tokio_postgres::config::SslMode::Disable => "disable",
            tokio_postgres::config::SslMode::Require => "require",
            _ => "prefer",
        }
        .to_string();
    }
    Ok(())
}

#[cfg(not(feature = "postgres"))]
fn override_connection(_spec: &mut PgConnectionSpec, _url: &str) -> Result<(), String> {
    Err(super::PipelineError::PostgresNotBuilt.to_string())
}

/// `dozer_<app>_<connection>_<hash>`: a slot name unique to this cache database and server, so
/// that two copies of a pipeline (tests, staging) never share a slot.
fn slot_name(db_path: &std::path::Path, spec: &PgConnectionSpec) -> String {
    // FNV-1a: stable across Rust versions (a new cache built by a newer toolchain must not
    // orphan the old slot's name), over everything that makes a slot distinct.
    let identity = format!(
        "{}\n{}\n{}:{}/{}",
        db_path.display(),
        spec.name,
        spec.host,
        spec.port,
        spec.database
    );
    let hash = identity.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let clean = |s: &str, max: usize| -> String {
        s.chars()
            .map(|c| match c.to_ascii_lowercase() {
                c @ ('a'..='z' | '0'..='9') => c,
                _ => '_',
            })
            .take(max)
            .collect()
    };
    let app = db_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(
        "dozer_{}_{}_{hash:08x}",
        clean(&app, 24),
        clean(&spec.name, 20)
    )
}

#[cfg(feature = "postgres")]
fn start_postgres(
    runtime: &tokio::runtime::Runtime,
    connections: Vec<RestoredConnection>,
    tables: &[(usize, usize, PgTableSpec)],
    stop: &Arc<AtomicBool>,
) -> Result<Option<PostgresFeed>, String> {
    use super::postgres::ConnectionReader;
    if connections.is_empty() {
        return Ok(None);
    }
    // A few batches of look-ahead: the reader decodes the next while the driver applies one.
    let (out, incoming) = std::sync::mpsc::sync_channel(4);
    let turn = Arc::new(tokio::sync::Mutex::new(()));
    let mut feed = Vec::new();
    for (index, connection) in connections.into_iter().enumerate() {
        let tables: Vec<(usize, PgTableSpec)> = tables
            .iter()
            .filter(|(c, _, _)| *c == index)
            .map(|(_, source, table)| (*source, table.clone()))
            .collect();
        feed.push((connection.spec.name.clone(), connection.progress.clone()));
        if tables.is_empty() {
            continue;
        }
        let reader = ConnectionReader {
            index,
            spec: connection.spec,
            slot: connection.slot,
            tables,
            resume_from: connection.resume_from,
            progress: connection.progress,
            out: out.clone(),
            turn: turn.clone(),
            stop: stop.clone(),
        };
        runtime.spawn(reader.run());
    }
    Ok(Some(PostgresFeed {
        incoming,
        connections: feed,
    }))
}

#[cfg(not(feature = "postgres"))]
fn start_postgres(
    _runtime: &tokio::runtime::Runtime,
    connections: Vec<RestoredConnection>,
    _tables: &[(usize, usize, PgTableSpec)],
    _stop: &Arc<AtomicBool>,
) -> Result<Option<PostgresFeed>, String> {
    if connections.is_empty() {
        Ok(None)
    } else {
        Err(super::PipelineError::PostgresNotBuilt.to_string())
    }
}

/// Applies `--source NAME=LOCATION` flags.
fn with_overrides(
    mut specs: Vec<SourceSpec>,
    overrides: &[(String, String)],
) -> Result<Vec<SourceSpec>, String> {
    let names: Vec<&str> = specs
        .iter()
        .filter(|s| matches!(s, SourceSpec::Files(_)))
        .map(|s| s.name())
        .collect();
    for (name, location) in overrides {
        let unknown = || {
            format!(
                "--source: no file source named `{name}` (file sources: {})",
                names.join(", ")
            )
        };
        let spec = specs
            .iter_mut()
            .find_map(|s| match s {
                SourceSpec::Files(spec) if spec.source == name => Some(spec),
                _ => None,
            })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> PgConnectionSpec {
        PgConnectionSpec {
            name: name.into(),
            host: "db.example.com".into(),
            port: 5432,
            user: "app".into(),
            password: None,
            database: "shop".into(),
            ssl_mode: "prefer".into(),
        }
    }

    #[test]
    fn slot_names_are_valid_stable_and_distinct_per_connection() {
        let path =
            std::path::Path::new("/srv/pipelines/.dozer/cache/a_rather_long_application_name.redb");
        let (a, b) = (
            slot_name(path, &spec("shop-db")),
            slot_name(path, &spec("shop_db")),
        );
        assert_ne!(
            a, b,
            "connections whose names clean alike still get their own slot"
        );
        for slot in [&a, &b] {
            assert!(slot.len() <= 63, "{slot}");
            assert!(slot
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'));
            assert!(
                slot.starts_with("dozer_a_rather_long_applicatio_shop_db_"),
                "{slot}"
            );
        }
        assert_eq!(
            a,
            slot_name(path, &spec("shop-db")),
            "the same inputs, the same name"
        );
    }
}
