//! `dashload sandbox`: the embedded stand-in stack on its own, until Ctrl-C.

use std::net::SocketAddr;

use clap::Args;

use crate::error::{Error, Result};
use crate::sandbox::{Sandbox, SandboxConfig};

/// Arguments of `sandbox`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  dashload sandbox --listen 127.0.0.1:8086 --dashboard scenarios/dashboards/toggl-overview.json\n  curl -s '127.0.0.1:8086/query?db=toggl&q=SHOW+TAG+VALUES+FROM+time_entry+WITH+KEY+%3D+project'"
)]
pub struct SandboxArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8086", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Seed of the pre-seeded history.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Days of pre-seeded history (0 starts empty).
    #[arg(long, default_value_t = 90)]
    pub seed_days: u32,
    /// A Grafana dashboard export to serve (repeatable).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "scenarios/dashboards/toggl-overview.json"
    )]
    pub dashboard: Vec<std::path::PathBuf>,
}

/// Serve until Ctrl-C.
pub fn exec(args: SandboxArgs) -> Result<u8> {
    let mut config = SandboxConfig {
        listen: args.listen,
        seed: args.seed,
        seed_days: args.seed_days,
        ..SandboxConfig::default()
    };
    for path in &args.dashboard {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let json = serde_json::from_str(&text).map_err(|e| {
            Error::config(
                format!("{}:{}:{}", path.display(), e.line(), e.column()),
                e.to_string(),
            )
        })?;
        config.dashboards.push(json);
    }
    let runtime = tokio::runtime::Runtime::new().map_err(anyhow::Error::from)?;
    runtime.block_on(async {
        let sandbox = Sandbox::start(config).await?;
        eprintln!("dashload sandbox listening on {} (InfluxDB 1.x, Grafana and Toggl APIs); Ctrl-C stops it", sandbox.url());
        tokio::signal::ctrl_c().await.map_err(anyhow::Error::from)?;
        eprintln!("stopping");
        sandbox.stop().await;
        Ok(0)
    })
}
