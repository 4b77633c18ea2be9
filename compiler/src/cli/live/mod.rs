//! `dozerc live`: a page in the browser showing the pipeline while you build it: its graph with
//! live row counts, the source schemas, each endpoint's rows as they change, an API explorer,
//! and the build's status and errors. Saving the config rebuilds the pipeline; the previous one
//! serves until the new one is ready.
//!
//! Three parts: [`supervisor`] builds and runs pipelines, [`server`] serves the page (its
//! assets are compiled into dozerc, so it works offline) and proxies the page's API calls to
//! the current pipeline, [`describe`] turns a compiled pipeline into what the page draws.

mod describe;
mod metrics_text;
mod server;
mod supervisor;

use crate::catalog::CatalogOptions;
use describe::Description;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// `dozerc live` as the command line gave it.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub config: PathBuf,
    pub host: String,
    pub port: u16,
    /// Debug builds: faster to rebuild, slower to run.
    pub dev: bool,
    pub catalog: CatalogOptions,
}

/// What the page shows, as `GET /live/state` returns it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct View {
    pub build: BuildView,
    /// The pipeline serving now, if any.
    pub pipeline: Option<PipelineView>,
    /// The pipeline serving now, as compiled.
    #[serde(flatten)]
    pub description: Description,
}

/// Where the latest build stands: `building`, `starting`, `serving` or `failed`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BuildView {
    pub state: String,
    pub message: String,
    pub error: Option<ErrorView>,
}

/// Why a build failed: the rendered diagnostic (with its span underlined) and where it points.
#[derive(Clone, Debug, Serialize)]
pub struct ErrorView {
    pub text: String,
    /// `file:line:column`, when the error points into the config.
    pub location: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PipelineView {
    pub generation: u64,
    /// Where the page's `/api` calls go.
    #[serde(skip)]
    pub rest_port: u16,
    pub rest_url: String,
    pub grpc_address: String,
}

/// The view, shared by the supervisor (which writes it) and the server (which reads it).
#[derive(Clone, Default)]
pub struct Shared(Arc<Mutex<View>>);

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, View> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Serves the page until Ctrl-C, building and running the pipeline behind it.
pub fn live(options: LiveOptions) -> Result<(), String> {
    let shared = Shared::default();
    shared.lock().build.state = "starting".into();
    let stop = Arc::new(AtomicBool::new(false));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let address = format!("{}:{}", options.host, options.port);
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(&address))
        .map_err(|e| {
            format!("cannot serve the live page on {address}: {e} (choose another with --port)")
        })?;
    println!("dozerc live: http://{address}  (Ctrl-C stops it)");

    let supervisor = {
        let (options, shared, stop) = (options.clone(), shared.clone(), stop.clone());
        std::thread::Builder::new()
            .name("live-supervisor".into())
            .spawn(move || supervisor::supervise(&options, &shared, &stop))
            .map_err(|e| format!("cannot start the supervisor: {e}"))?
    };
    let served = runtime.block_on(async move {
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        axum::serve(listener, server::router(shared))
            .with_graceful_shutdown(shutdown)
            .await
    });
    stop.store(true, Ordering::Relaxed);
    let _ = supervisor.join();
    served.map_err(|e| format!("the live page stopped: {e}"))
}
