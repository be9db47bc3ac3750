//! Grafana's backend macros for InfluxQL: what the server substitutes after the
//! browser has interpolated template variables (DOMAIN.md §1.6, §1.8).
//!
//! `$timeFilter` becomes `time >= <from>ms and time <= <to>ms`, `$__interval` /
//! `$interval` the rounded interval (`10s`, `1m`, `2h`), and `$__interval_ms` its
//! milliseconds. Like Grafana, this is a plain string replace, of exactly these
//! names (`pkg/tsdb/influxdb/influxql/models/query.go` `Build`): `$__timeFilter`,
//! a macro of Grafana's SQL data sources, is not one of them and goes to InfluxDB
//! as written, which refuses it, as it refuses the panel in Grafana.

/// The values a panel query's macros expand to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacroContext {
    /// Range start, epoch ms.
    pub from_ms: i64,
    /// Range end, epoch ms.
    pub to_ms: i64,
    /// The panel's interval, ms (see [`interval_ms`]).
    pub interval_ms: u64,
}

/// Expand the backend macros in `query`.
pub fn expand(query: &str, ctx: &MacroContext) -> String {
    if !query.contains('$') {
        return query.to_string();
    }
    let time_filter = time_filter(ctx.from_ms, ctx.to_ms);
    let interval = format_interval(ctx.interval_ms);
    // Longest names first, so `$__interval_ms` is not read as `$__interval` + `_ms`.
    query
        .replace("$timeFilter", &time_filter)
        .replace("$__interval_ms", &ctx.interval_ms.to_string())
        .replace("$__interval", &interval)
        .replace("$interval", &interval)
}

/// `$timeFilter` as Grafana's backend renders it (`models/query.go` `renderTimeFilter`).
pub fn time_filter(from_ms: i64, to_ms: i64) -> String {
    format!("time >= {from_ms}ms and time <= {to_ms}ms")
}

/// Grafana's `roundInterval`: snap a raw interval (ms) to a tidy step.
pub fn round_interval(ms: u64) -> u64 {
    const S: u64 = 1000;
    const M: u64 = 60 * S;
    const H: u64 = 60 * M;
    const D: u64 = 24 * H;
    const W: u64 = 7 * D;
    // (threshold, result): the first threshold above `ms` gives the result.
    const STEPS: [(u64, u64); 30] = [
        (10, 1),
        (15, 10),
        (35, 20),
        (75, 50),
        (150, 100),
        (350, 200),
        (750, 500),
        (1500, S),
        (3500, 2 * S),
        (7500, 5 * S),
        (12500, 10 * S),
        (17500, 15 * S),
        (25000, 20 * S),
        (45000, 30 * S),
        (90000, M),
        (210000, 2 * M),
        (450000, 5 * M),
        (750000, 10 * M),
        (1050000, 15 * M),
        (1500000, 20 * M),
        (2700000, 30 * M),
        (5400000, H),
        (9000000, 2 * H),
        (16200000, 3 * H),
        (32400000, 6 * H),
        (86400000, 12 * H),
        (604800000, D),
        (1814400000, W),
        (3628800000, 30 * D),
        (u64::MAX, 365 * D),
    ];
    STEPS
        .iter()
        .find(|(threshold, _)| ms < *threshold)
        .map(|(_, result)| *result)
        .unwrap_or(365 * D)
}

/// The interval Grafana computes for a panel: `roundInterval((to-from)/maxDataPoints)`,
/// raised to the panel's minimum interval when that is larger.
pub fn interval_ms(
    from_ms: i64,
    to_ms: i64,
    max_data_points: u32,
    min_interval_ms: Option<u64>,
) -> u64 {
    let span = (to_ms - from_ms).max(0) as u64;
    let raw = span / u64::from(max_data_points.max(1));
    let rounded = round_interval(raw).max(1);
    rounded.max(min_interval_ms.unwrap_or(0))
}

/// An interval as Grafana writes it: the largest unit it reaches, truncated
/// (`90s` is `1m`, 7 days `7d`: there is no week unit). Backend:
/// `gtime.FormatInterval` (grafana-plugin-sdk-go `backend/gtime`), used by
/// `query.go` `Build`; browser: `rangeutil.secondsToHms` (`@grafana/data`),
/// which has the same units.
pub fn format_interval(ms: u64) -> String {
    const UNITS: [(u64, &str); 6] = [
        (365 * 86_400_000, "y"),
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1000, "s"),
        (1, "ms"),
    ];
    for (unit, suffix) in UNITS {
        if ms >= unit {
            return format!("{}{suffix}", ms / unit);
        }
    }
    "1ms".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    #[test]
    fn intervals_match_grafanas_worked_examples_at_1255_px() {
        // DOMAIN.md §1.8: 1h→2s, 6h→15s, 24h→1m, 7d→10m, 30d→30m, 90d→2h.
        let cases = [
            (1, "2s"),
            (6, "15s"),
            (24, "1m"),
            (7 * 24, "10m"),
            (30 * 24, "30m"),
            (90 * 24, "2h"),
        ];
        for (hours, want) in cases {
            let got = format_interval(interval_ms(0, hours * H, 1255, None));
            assert_eq!(got, want, "range {hours}h");
        }
    }

    #[test]
    fn intervals_are_written_as_grafana_writes_them() {
        // Issue 23: 7 days was `1w`; Grafana has no week unit.
        assert_eq!(format_interval(7 * 86_400_000), "7d");
        assert_eq!(format_interval(90_000), "1m");
        assert_eq!(format_interval(365 * 86_400_000), "1y");
        assert_eq!(format_interval(500), "500ms");
        assert_eq!(format_interval(0), "1ms");
    }

    #[test]
    fn min_interval_raises_the_interval() {
        assert_eq!(interval_ms(0, H, 1255, Some(3_600_000)), 3_600_000);
    }

    #[test]
    fn macros_expand_as_grafanas_backend_does() {
        let ctx = MacroContext {
            from_ms: 1763251200000,
            to_ms: 1763856000000,
            interval_ms: 600_000,
        };
        let q = "SELECT sum(\"d\") FROM \"m\" WHERE $timeFilter GROUP BY time($__interval) -- $__interval_ms $interval";
        assert_eq!(
            expand(q, &ctx),
            "SELECT sum(\"d\") FROM \"m\" WHERE time >= 1763251200000ms and time <= 1763856000000ms \
             GROUP BY time(10m) -- 600000 10m"
        );
        // Not a macro of InfluxDB's (Grafana's query.go replaces `$timeFilter`,
        // which `$__timeFilter` does not contain): sent as written.
        assert_eq!(expand("WHERE $__timeFilter", &ctx), "WHERE $__timeFilter");
    }
}
