//! Command-line flags of a generated pipeline binary (no clap: keeps generated crates lean).

use super::Settings;
use std::path::PathBuf;

const USAGE: &str = "usage: <pipeline> [--home-dir DIR] [--rest-host HOST] [--rest-port PORT] [--grpc-host HOST] [--grpc-port PORT] [--poll-ms MS] [--source NAME=FOLDER_OR_GLOB]... [--connection NAME=URL]... [--resnapshot]\n  --connection  connect Postgres connection NAME to another server or database (postgresql:// URL or key=value string)\n  --resnapshot  delete the cache and rebuild it from a new snapshot of every source";

/// Settings after command-line overrides.
#[derive(Clone, Debug)]
pub struct Args {
    pub home_dir: PathBuf,
    pub rest_host: String,
    pub rest_port: u16,
    pub grpc_host: String,
    pub grpc_port: u16,
    pub poll_interval_ms: u64,
    /// `--source NAME=LOCATION`: read a file source from another folder or glob than the config's.
    pub source_locations: Vec<(String, String)>,
    /// `--connection NAME=URL`: where a Postgres connection points instead of the config's.
    pub connections: Vec<(String, String)>,
    /// `--resnapshot`: start from an empty cache (new snapshots, new replication slots).
    pub resnapshot: bool,
}

impl Args {
    pub fn parse(
        settings: &Settings,
        args: impl IntoIterator<Item = String>,
    ) -> Result<Args, String> {
        let mut out = Args {
            home_dir: PathBuf::from(settings.home_dir),
            rest_host: settings.rest_host.to_string(),
            rest_port: settings.rest_port,
            grpc_host: settings.grpc_host.to_string(),
            grpc_port: settings.grpc_port,
            poll_interval_ms: settings.poll_interval_ms,
            source_locations: Vec::new(),
            connections: Vec::new(),
            resnapshot: false,
        };
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            if flag == "--help" || flag == "-h" {
                return Err(USAGE.to_string());
            }
            if flag == "--resnapshot" {
                out.resnapshot = true;
                continue;
            }
            let mut value = || {
                args.next()
                    .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
            };
            match flag.as_str() {
                "--home-dir" => out.home_dir = PathBuf::from(value()?),
                "--rest-host" => out.rest_host = value()?,
                "--rest-port" => {
                    let v = value()?;
                    out.rest_port = v
                        .parse()
                        .map_err(|_| format!("--rest-port: `{v}` is not a port number"))?;
                }
                "--grpc-host" => out.grpc_host = value()?,
                "--grpc-port" => {
                    let v = value()?;
                    out.grpc_port = v
                        .parse()
                        .map_err(|_| format!("--grpc-port: `{v}` is not a port number"))?;
                }
                "--poll-ms" => {
                    let v = value()?;
                    out.poll_interval_ms = v
                        .parse()
                        .map_err(|_| format!("--poll-ms: `{v}` is not a number"))?;
                }
                "--source" => {
                    let v = value()?;
                    let (name, location) = v
                        .split_once('=')
                        .ok_or_else(|| format!("--source: expected NAME=LOCATION, found `{v}`"))?;
                    out.source_locations
                        .push((name.to_string(), location.to_string()));
                }
                "--connection" => {
                    let v = value()?;
                    let (name, url) = v
                        .split_once('=')
                        .ok_or_else(|| format!("--connection: expected NAME=URL, found `{v}`"))?;
                    out.connections.push((name.to_string(), url.to_string()));
                }
                other => return Err(format!("unknown flag `{other}`\n{USAGE}")),
            }
        }
        Ok(out)
    }

    /// The cache database file.
    pub fn database_path(&self, app_name: &str) -> PathBuf {
        self.home_dir.join("cache").join(format!("{app_name}.redb"))
    }
}
