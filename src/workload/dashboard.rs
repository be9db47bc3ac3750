//! TEMPORARY stand-in for the dashboard import (replaced by the dashboard work).
#![allow(missing_docs)]
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct TimeDefault {
    pub from: String,
    pub to: String,
}
#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
}
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub uid: String,
    pub title: String,
    pub time: TimeDefault,
    pub refresh: Option<Duration>,
    pub variables: Vec<Variable>,
}
pub fn load(path: &Path) -> crate::Result<Dashboard> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        crate::Error::config(
            path.display().to_string(),
            format!("cannot read dashboard: {e}"),
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        crate::Error::config(
            format!("{}:{}:{}", path.display(), e.line(), e.column()),
            e.to_string(),
        )
    })?;
    Ok(Dashboard {
        uid: v["uid"].as_str().unwrap_or("").into(),
        title: v["title"].as_str().unwrap_or("").into(),
        time: TimeDefault {
            from: "now-7d".into(),
            to: "now".into(),
        },
        refresh: Some(Duration::from_secs(30)),
        variables: v["templating"]["list"]
            .as_array()
            .map(|l| {
                l.iter()
                    .map(|x| Variable {
                        name: x["name"].as_str().unwrap_or("").into(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}
