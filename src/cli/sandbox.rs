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
    /// Also answer `/debug/vars` (the counters a run's count check scrapes) to
    /// peers off loopback that send the token from DASHLOAD_SANDBOX_TOKEN or the
    /// file DASHLOAD_SANDBOX_TOKEN_FILE names (`Authorization: Token …`; a
    /// scenario's `[server_metrics] token_file`). Without it only loopback peers
    /// get them.
    #[arg(long)]
    pub serve_counters: bool,
    /// Grafana Live connections allowed at once on /api/live/ws (Grafana's
    /// `[live] max_connections`); past it `connect` is refused with Centrifuge's
    /// 3504 `connection limit`.
    #[arg(long, default_value_t = crate::sandbox::http_live::DEFAULT_MAX_CONNECTIONS, value_name = "N")]
    pub live_max_connections: usize,
}

/// The variable holding the sandbox's counters token.
pub const TOKEN_ENV: &str = "DASHLOAD_SANDBOX_TOKEN";
/// The variable naming a file that holds it.
pub const TOKEN_FILE_ENV: &str = "DASHLOAD_SANDBOX_TOKEN_FILE";

/// Serve until Ctrl-C.
pub fn exec(args: SandboxArgs) -> Result<u8> {
    let mut config = SandboxConfig {
        listen: args.listen,
        seed: args.seed,
        seed_days: args.seed_days,
        live_max_connections: args.live_max_connections,
        ..SandboxConfig::default()
    };
    if args.serve_counters {
        let token = crate::cluster::token::Token::from_env_named(TOKEN_ENV, TOKEN_FILE_ENV)?;
        config.counters_token = Some(token.ok_or_else(|| {
            Error::Usage(format!(
                "--serve-counters needs a token: set {TOKEN_ENV} or {TOKEN_FILE_ENV} (never a flag)"
            ))
        })?);
    }
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
