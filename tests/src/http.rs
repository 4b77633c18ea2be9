//! A tiny HTTP client for the REST API.

use serde_json::Value;

fn url(port: u16, path: &str) -> String {
    format!("http://127.0.0.1:{port}{path}")
}

/// GET returning parsed JSON; an error for non-2xx statuses.
pub fn get(port: u16, path: &str) -> anyhow::Result<Value> {
    let mut response = ureq::get(&url(port, path)).call()?;
    Ok(response.body_mut().read_json()?)
}

/// GET returning the body as text; an error for non-2xx statuses.
pub fn get_text(port: u16, path: &str) -> anyhow::Result<String> {
    let mut response = ureq::get(&url(port, path)).call()?;
    Ok(response.body_mut().read_to_string()?)
}

/// POST a raw body; returns (status, JSON body) whatever the status.
pub fn post_raw(port: u16, path: &str, body: &str) -> anyhow::Result<(u16, Value)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(&url(port, path))
        .header("content-type", "application/json")
        .send(body)?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string()?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// GET returning (status, JSON body) whatever the status.
pub fn get_raw(port: u16, path: &str) -> anyhow::Result<(u16, Value)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent.get(&url(port, path)).call()?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string()?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// Every row of an endpoint (POST /query with a large limit).
pub fn all_rows(port: u16, path: &str) -> anyhow::Result<Vec<Value>> {
    let (status, body) = post_raw(port, &format!("{path}/query"), r#"{"$limit": 10000}"#)?;
    anyhow::ensure!(status == 200, "query {path} failed: {status} {body}");
    Ok(body.as_array().cloned().unwrap_or_default())
}

/// Waits (read-your-writes) until the pipeline has applied Postgres position `lsn`: `GET /health`
/// with `x-dozer-wait-for`. Retries when the pipeline is briefly unreachable (restarting).
pub fn wait_for_position(port: u16, lsn: &str, timeout: std::time::Duration) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + timeout;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let wait_ms = left.as_millis().min(60_000).to_string();
        let reply = agent
            .get(&url(port, "/health"))
            .header("x-dozer-wait-for", lsn)
            .header("x-dozer-wait-timeout-ms", &wait_ms)
            .call();
        match reply {
            Ok(response) if response.status().as_u16() == 200 => return Ok(()),
            Ok(mut response) if left.is_zero() => anyhow::bail!(
                "position {lsn} not applied within {timeout:?}: {} {}",
                response.status(),
                response.body_mut().read_to_string().unwrap_or_default()
            ),
            Err(e) if left.is_zero() => anyhow::bail!("position {lsn}: {e}"),
            _ => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
}
