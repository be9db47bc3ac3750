//! A dashboard a load would send nothing for is refused: no panel it loads has a
//! query the target kind can run (InfluxQL for every kind, Flux only for
//! InfluxDB 2.x, anything through Grafana). Otherwise every "load" would be a
//! ~1 ms no-op and the report would judge nothing real. Before that, the Flux
//! queries of a target that runs InfluxQL only are taken out and listed as
//! skipped ([`flux_unsupported`]), so a dashboard of Flux panels only is refused.

use toml::Spanned;

use super::raw::RawViewers;
use super::{Ctx, TargetKind};
use crate::error::Result;
use crate::workload::dashboard::{Dashboard, Panel, TargetKind as QueryKind};

/// Why a `kind` target cannot run Flux queries, when it cannot.
pub(super) fn flux_unsupported(kind: TargetKind) -> Option<&'static str> {
    match kind {
        TargetKind::Influxdb1 => {
            Some("an influxdb1 target runs InfluxQL only (Flux needs InfluxDB 2.x's /api/v2/query)")
        }
        TargetKind::Sandbox => Some("the sandbox's InfluxDB data source runs InfluxQL only"),
        TargetKind::Influxdb2 | TargetKind::Grafana => None,
    }
}

impl Ctx<'_> {
    /// Refuse a dashboard whose loads would send no query to a `kind` target.
    pub(super) fn check_queryable(
        &self,
        v: &RawViewers,
        dashboard: &Dashboard,
        kind: TargetKind,
        first_screen_only: bool,
    ) -> Result<()> {
        let loaded = |p: &&Panel| !p.in_collapsed_row && (!first_screen_only || p.first_screen);
        let runs = |p: &&Panel| {
            kind == TargetKind::Grafana
                || p.targets
                    .iter()
                    .any(|t| t.kind != QueryKind::Flux || kind == TargetKind::Influxdb2)
        };
        if dashboard.panels.iter().filter(loaded).any(|p| runs(&p)) {
            return Ok(());
        }
        // Their model comes from Grafana before the run (`resolve_library_panels`,
        // which refuses the dashboard then if still nothing is queried).
        if kind == TargetKind::Grafana && !dashboard.missing_library_panels().is_empty() {
            return Ok(());
        }
        self.err(
            v.dashboard.span(),
            why_not(&v.dashboard, dashboard, kind, first_screen_only),
        )
    }
}

/// The message: which file, and what its panels are instead.
fn why_not(
    path: &Spanned<String>,
    dashboard: &Dashboard,
    kind: TargetKind,
    first_screen_only: bool,
) -> String {
    let mut parts = Vec::new();
    let count = |f: &dyn Fn(&Panel) -> bool| dashboard.panels.iter().filter(|p| f(p)).count();
    let collapsed = count(&|p| p.in_collapsed_row);
    if collapsed > 0 {
        parts.push(format!("{collapsed} in collapsed rows"));
    }
    if first_screen_only {
        let below = count(&|p| !p.in_collapsed_row && !p.first_screen);
        if below > 0 {
            parts.push(format!(
                "{below} below the first screen (first_screen_only)"
            ));
        }
    }
    if !dashboard.skipped.is_empty() {
        let first: Vec<String> = dashboard
            .skipped
            .iter()
            .take(3)
            .map(|s| format!("{}: {}", s.panel, s.reason))
            .collect();
        parts.push(format!(
            "{} skipped ({}{})",
            dashboard.skipped.len(),
            first.join("; "),
            if dashboard.skipped.len() > 3 {
                "; …"
            } else {
                ""
            }
        ));
    }
    let detail = if parts.is_empty() {
        "it has no panels".to_string()
    } else {
        format!("panels: {}", parts.join(", "))
    };
    format!(
        "dashboard `{}`: no panel a load opens has a query the {} target can run ({detail})",
        path.get_ref(),
        kind.name()
    )
}
