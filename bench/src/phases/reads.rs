//! Reads: wrk against the pipeline's REST API (point lookups by primary key over random keys,
//! and the first 50-row page, asked again and again as clients do, and with
//! `Cache-Control: no-cache` so that each request reads redb and encodes JSON) and against a
//! bare axum server answering the same paths with fixed bodies of the same size, one after the
//! other, with the same wrk settings.

use crate::env::Env;
use crate::pipeline::{free_port, http_agent, Pipeline};
use crate::report::Section;
use crate::stats::{ratio, thousands, verdict};
use crate::Sizes;
use anyhow::{bail, ensure, Context, Result};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TARGET: f64 = 0.7;
/// wrk's connections; one wrk thread (the server has the other core).
const CONNECTIONS: &str = "16";

/// One wrk run's figures.
struct Load {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

pub fn run(env: &Env, sizes: &Sizes, pipeline: &Pipeline) -> Result<Section> {
    println!("reads: wrk against the pipeline and a bare axum server");
    let dir = env.scratch("reads")?;
    let keys = customer_ids(pipeline)?;
    ensure!(!keys.is_empty(), "the clv endpoint serves no rows");
    let (status, point) = pipeline.get(&format!("/clv/{}", keys[0]))?;
    ensure!(status == 200, "GET /clv/{} answered {status}", keys[0]);
    let (status, page) = pipeline.get("/clv")?;
    ensure!(status == 200, "GET /clv answered {status}");
    std::fs::write(dir.join("point.json"), &point)?;
    std::fs::write(dir.join("page.json"), &page)?;
    let script = dir.join("points.lua");
    std::fs::write(&script, point_script(&keys))?;

    let peer = FixedServer::start(&dir)?;
    let seconds = sizes.read_seconds;
    let ours_points = wrk(env, &pipeline.url("/clv"), Some(&script), &[], seconds)?;
    let peer_points = wrk(env, &peer.url("/clv"), Some(&script), &[], seconds)?;
    let ours_pages = wrk(env, &pipeline.url("/clv"), None, &[], seconds)?;
    let peer_pages = wrk(env, &peer.url("/clv"), None, &[], seconds)?;
    let no_cache = ["-H", "Cache-Control: no-cache"];
    let ours_computed = wrk(env, &pipeline.url("/clv"), None, &no_cache, seconds)?;
    let peer_computed = wrk(env, &peer.url("/clv"), None, &no_cache, seconds)?;
    drop(peer);

    let mut section = Section::new(
        "Reads over REST",
        &[
            "request",
            "body bytes",
            "dozerc req/s",
            "dozerc p50 / p99 ms",
            "bare axum req/s",
            "bare axum p50 / p99 ms",
            "ratio",
        ],
    );
    section.intro(format!(
        "wrk (1 thread, {CONNECTIONS} connections, {seconds} s per run) against the running \
         pipeline of the {} row snapshot: `GET /clv/{{CustomerID}}` over {} random existing \
         keys, and `GET /clv` (the first page of 50 rows). No commit comes in meanwhile, so \
         the repeated page is answered from the endpoint's page cache (pages kept until the next \
         commit); with `Cache-Control: no-cache` each request reads redb and encodes the JSON. \
         The peer is a bare axum 0.8 server (`dozer-bench serve-fixed`) answering the same paths \
         with a fixed body of the same size, measured right after with the same settings.",
        thousands(sizes.resident_rows as f64),
        keys.len()
    ));
    let mut verdicts = Vec::new();
    for (name, body, ours, peer) in [
        (
            "point lookup by primary key",
            &point,
            &ours_points,
            &peer_points,
        ),
        (
            "page of 50 rows, repeated (page cache)",
            &page,
            &ours_pages,
            &peer_pages,
        ),
        (
            "page of 50 rows, `Cache-Control: no-cache` (computed per request)",
            &page,
            &ours_computed,
            &peer_computed,
        ),
    ] {
        let r = ratio(ours.requests_per_second, peer.requests_per_second);
        verdicts.push(format!("{name}: {} ({r:.2}×)", verdict(r >= TARGET)));
        section.row(vec![
            name.into(),
            thousands(body.len() as f64),
            thousands(ours.requests_per_second),
            format!("{:.2} / {:.2}", ours.p50_ms, ours.p99_ms),
            thousands(peer.requests_per_second),
            format!("{:.2} / {:.2}", peer.p50_ms, peer.p99_ms),
            format!("{r:.2}"),
        ]);
    }
    section.note(format!(
        "Target at least {TARGET}× the bare server's requests/s. {}.",
        verdicts.join("; ")
    ));
    Ok(section)
}

/// Up to 1,000 CustomerIDs the endpoint serves.
fn customer_ids(pipeline: &Pipeline) -> Result<Vec<i64>> {
    let (status, body) = pipeline.get("/clv?limit=1000")?;
    ensure!(
        status == 200,
        "GET /clv?limit=1000 answered {status}: {body}"
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&body)?;
    Ok(rows
        .iter()
        .filter_map(|r| r["CustomerID"].as_i64())
        .collect())
}

/// A wrk script asking for a random one of `keys` each request.
fn point_script(keys: &[i64]) -> String {
    let list: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    format!(
        "local keys = {{{}}}\nmath.randomseed(7)\nrequest = function()\n  \
         return wrk.format(\"GET\", wrk.path .. \"/\" .. keys[math.random(#keys)])\nend\n",
        list.join(",")
    )
}

fn wrk(env: &Env, url: &str, script: Option<&Path>, extra: &[&str], seconds: u64) -> Result<Load> {
    let mut command = Command::new(&env.wrk);
    command.args([
        "-t1",
        "-c",
        CONNECTIONS,
        "-d",
        &format!("{seconds}s"),
        "--latency",
    ]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    command.args(extra);
    let out = crate::env::run(command.arg(url), "wrk")?;
    if let Some(line) = out.lines().find(|l| l.contains("Non-2xx")) {
        bail!("wrk against {url} saw errors: {line}\n{out}");
    }
    let field = |prefix: &str| -> Option<&str> {
        out.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    };
    Ok(Load {
        requests_per_second: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no Requests/sec in wrk's output:\n{out}"))?,
        p50_ms: field("50%")
            .and_then(millis)
            .context("no p50 in wrk's output")?,
        p99_ms: field("99%")
            .and_then(millis)
            .context("no p99 in wrk's output")?,
    })
}

/// wrk's latency (`812.00us`, `1.20ms`, `2.01s`) in milliseconds.
fn millis(value: &str) -> Option<f64> {
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    match unit {
        "us" => Some(number / 1000.0),
        "ms" => Some(number),
        "s" => Some(number * 1000.0),
        "m" => Some(number * 60_000.0),
        _ => None,
    }
}

/// The bare axum peer, as a child process of this harness.
struct FixedServer {
    child: Child,
    port: u16,
}

impl FixedServer {
    fn start(dir: &Path) -> Result<FixedServer> {
        let port = free_port()?;
        let child = Command::new(std::env::current_exe()?)
            .args(["serve-fixed", "--port", &port.to_string()])
            .arg("--point")
            .arg(dir.join("point.json"))
            .arg("--page")
            .arg(dir.join("page.json"))
            .stdin(Stdio::null())
            .spawn()?;
        let server = FixedServer { child, port };
        let http = http_agent();
        let deadline = Instant::now() + Duration::from_secs(10);
        while http.get(&server.url("/clv")).call().is_err() {
            ensure!(
                Instant::now() < deadline,
                "the bare axum server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for FixedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrk_latencies_in_milliseconds() {
        assert_eq!(super::millis("812.00us"), Some(0.812));
        assert_eq!(super::millis("1.20ms"), Some(1.2));
        assert_eq!(super::millis("2.5s"), Some(2500.0));
        assert_eq!(super::millis("fast"), None);
    }
}
