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
