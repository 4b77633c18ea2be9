//! Ctrl-C during the change stream: the first asks the writer to stop after
//! the current transaction (so it can print its summary), the second quits at
//! once. Installed only after loading, so Ctrl-C during a load kills the
//! process and the server rolls the COPY back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag set by the first Ctrl-C. If no handler can be installed, Ctrl-C
/// keeps its default (the process ends; the open transaction rolls back).
pub fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    if let Ok(runtime) = runtime {
        std::thread::spawn(move || {
            runtime.block_on(async {
                while tokio::signal::ctrl_c().await.is_ok() {
                    if flag.swap(true, Ordering::Relaxed) {
                        std::process::exit(130);
                    }
                    eprintln!("stopping after this transaction (Ctrl-C again to quit now)");
                }
            })
        });
    }
    stop
}
