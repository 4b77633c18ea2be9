//! Python clients generated from a pipeline's emitted protos: a virtual environment with
//! grpcio (created once under `target/`), stubs made by grpcio-tools, and the test client
//! `tests/python/grpc_client.py`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

/// The packages the clients need, pinned so that every run tests the same client.
const PACKAGES: &[&str] = &[
    "grpcio==1.85.3",
    "grpcio-tools==1.85.1",
    "grpcio-reflection==1.85.1",
    "grpcio-health-checking==1.85.1",
];

static VENV_LOCK: Mutex<()> = Mutex::new(());

/// The venv's python, creating the venv on first use. It is built in a folder of its own and
/// renamed into place, so that test processes running at once never see half of one.
pub fn python() -> anyhow::Result<PathBuf> {
    let _guard = VENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let target = crate::workspace_root().join("target");
    let venv = target.join("grpc-venv");
    let python = venv.join("bin").join("python");
    let wanted = PACKAGES.join("\n");
    let ready = |venv: &Path| {
        std::fs::read_to_string(venv.join(".installed"))
            .ok()
            .as_deref()
            == Some(wanted.as_str())
    };
    if ready(&venv) {
        return Ok(python);
    }
    let building = target.join(format!("grpc-venv.building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&building)
        .status()?;
    anyhow::ensure!(status.success(), "python3 -m venv failed");
    let status = Command::new(building.join("bin").join("python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(PACKAGES)
        .status()?;
    anyhow::ensure!(status.success(), "pip install {PACKAGES:?} failed");
    std::fs::write(building.join(".installed"), &wanted)?;
    if !ready(&venv) {
        let _ = std::fs::remove_dir_all(&venv);
        if std::fs::rename(&building, &venv).is_ok() {
            return Ok(python);
        }
    }
    // Another process put its venv in place first.
    let _ = std::fs::remove_dir_all(&building);
    anyhow::ensure!(ready(&venv), "no usable venv at {}", venv.display());
    Ok(python)
}

/// Generates Python stubs for every proto below `crate_dir/proto` into `out`.
pub fn generate_stubs(crate_dir: &Path, out: &Path) -> anyhow::Result<()> {
    let proto_dir = crate_dir.join("proto");
    let mut protos = Vec::new();
    let mut pending = vec![proto_dir.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "proto") {
                protos.push(path.strip_prefix(&proto_dir)?.to_path_buf());
            }
        }
    }
    std::fs::create_dir_all(out)?;
    let output = Command::new(python()?)
        .args(["-m", "grpc_tools.protoc", "-I"])
        .arg(&proto_dir)
        .arg(format!("--python_out={}", out.display()))
        .arg(format!("--grpc_python_out={}", out.display()))
        .args(&protos)
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "grpc_tools.protoc failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// The test client, run with the stubs in `stubs` on its path.
pub fn client(stubs: &Path, args: &[&str]) -> anyhow::Result<Command> {
    let script = crate::workspace_root()
        .join("tests")
        .join("python")
        .join("grpc_client.py");
    script_command(stubs, &script, args)
}

/// Any Python script of the repository, run with the stubs in `stubs` on its path.
pub fn script_command(stubs: &Path, script: &Path, args: &[&str]) -> anyhow::Result<Command> {
    let mut command = Command::new(python()?);
    command
        .arg(script)
        .args(args)
        .env("PYTHONPATH", stubs)
        .env("PYTHONUNBUFFERED", "1");
    Ok(command)
}

/// Runs the client to completion and parses its JSON output.
pub fn run_client(stubs: &Path, args: &[&str]) -> anyhow::Result<serde_json::Value> {
    let output = client(stubs, args)?.output()?;
    anyhow::ensure!(
        output.status.success(),
        "grpc_client.py {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// Starts the client in the background, its output piped.
pub fn spawn_client(stubs: &Path, args: &[&str]) -> anyhow::Result<Child> {
    Ok(client(stubs, args)?
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?)
}
