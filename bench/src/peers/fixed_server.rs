//! The reads peer: a bare axum server with the pipeline's routes' shapes, answering each with a
//! fixed body the same size as the pipeline's answer. What serving costs with no cache behind.

use anyhow::Result;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;
use std::path::Path;

pub fn serve(port: u16, point: &Path, page: &Path) -> Result<()> {
    let point: &'static [u8] = std::fs::read(point)?.leak();
    let page: &'static [u8] = std::fs::read(page)?.leak();
    let json = || [(CONTENT_TYPE, "application/json")];
    let app = Router::new()
        .route("/{endpoint}", get(move || async move { (json(), page) }))
        .route(
            "/{endpoint}/{key}",
            get(move || async move { (json(), point) }),
        );
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            axum::serve(listener, app).await?;
            Ok(())
        })
}
