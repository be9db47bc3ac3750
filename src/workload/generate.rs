//! `dashload generate toggl`: a fixed number of generated Toggl entries, printed
//! as JSON Lines or line protocol, streamed in constant memory.
//!
//! The CLI owns the arguments; this module owns what comes out, so a test can
//! assert on the bytes. The history ends at `end_s` and walks back one day at a
//! time until it holds `count` entries (a fast counting pass, then the output
//! pass), so the output is the newest `count` entries, oldest first. The world
//! grows with `count` (about 1 500 entries per user and year; 50 to 10 000
//! users, at most 200 per workspace) so 10^8 entries span years, not centuries,
//! while memory stays bounded by one day's entries.

use std::io::{self, Write};

use super::line_protocol::{Names, Outcome};
use super::toggl::{EntryGenerator, World, WorldConfig};

const DAY: i64 = 86_400;

/// Output format of [`write_generated`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// JSON Lines: one Toggl API v9 time-entry object per line, deleted ones
    /// included (with `server_deleted_at`), as `GET /me/time_entries?since=` returns them.
    Json,
    /// InfluxDB line protocol (DOMAIN.md §5.1), one point per line; deleted
    /// entries are left out, entries running at `end_s` have `running=true`.
    Lp,
}

/// The world used for `count` entries: the default one, with more users (and
/// workspaces of at most 200) when a year of history would not hold `count`.
pub fn world_config_for(count: u64) -> WorldConfig {
    let users = (count / 1_500).clamp(50, 10_000) as u32;
    let workspaces = users.div_ceil(200);
    WorldConfig {
        workspaces,
        users_per_workspace: users.div_ceil(workspaces),
        ..WorldConfig::default()
    }
}

/// Write exactly `count` generated entries, the newest ones starting before
/// `end_s` (unix seconds, also "now"), oldest first, to `out` in `format`.
/// Deterministic from `seed`; memory does not grow with `count`.
pub fn write_generated(
    out: &mut impl Write,
    count: u64,
    format: OutputFormat,
    seed: u64,
    end_s: i64,
) -> io::Result<()> {
    if count == 0 {
        return Ok(());
    }
    let world = World::generate(seed, &world_config_for(count));
    write_from_world(out, &world, count, format, seed, end_s)
}

/// [`write_generated`] for a given world; fails rather than walking back
/// forever when a year goes by without a single entry.
fn write_from_world(
    out: &mut impl Write,
    world: &World,
    count: u64,
    format: OutputFormat,
    seed: u64,
    end_s: i64,
) -> io::Result<()> {
    let all = EntryGenerator::new(world, seed, end_s, end_s);
    let counted = |g: EntryGenerator| match format {
        OutputFormat::Json => g.count() as u64,
        OutputFormat::Lp => g.count_live(),
    };
    // Walk back until [from, end_s) holds enough; each UTC day holds exactly
    // the entries of one local date, so this plans every date once (and the
    // output pass once more).
    let mut from = end_s.div_euclid(DAY) * DAY;
    let mut total = counted(all.reframe(from, end_s, end_s));
    let mut empty_days = 0;
    while total < count {
        from -= DAY;
        let n = counted(all.reframe(from, from + DAY, end_s));
        total += n;
        empty_days = if n == 0 { empty_days + 1 } else { 0 };
        if empty_days > 366 {
            let msg = format!("only {total} of {count} entries: the world logs no time");
            return Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
        }
    }
    let mut entries = all.reframe(from, end_s, end_s);
    // The oldest day has `total - count` too many: drop its first ones.
    let mut skip = total - count;
    let mut buf = Vec::with_capacity(1 << 16);
    let names = Names::from_world(world);
    for e in &mut entries {
        let written = match format {
            OutputFormat::Json => {
                if skip == 0 {
                    serde_json::to_writer(&mut buf, &e)?;
                    buf.push(b'\n');
                }
                true
            }
            OutputFormat::Lp if skip == 0 => {
                names.write_entry(&e, end_s, &mut buf) == Outcome::Written
            }
            OutputFormat::Lp => e.server_deleted_at.is_none(),
        };
        if written && skip > 0 {
            skip -= 1;
        }
        if buf.len() >= 1 << 16 {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::toggl::TimeEntry;

    const END: i64 = 1_763_856_000; // 2025-11-23T00:00:00Z, a Sunday

    fn generated(count: u64, format: OutputFormat, seed: u64) -> String {
        let mut out = Vec::new();
        write_generated(&mut out, count, format, seed, END).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_lines_hold_exactly_count_entries_newest_last() {
        for count in [1, 7, 1_000] {
            let text = generated(count, OutputFormat::Json, 3);
            let entries: Vec<TimeEntry> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(entries.len() as u64, count);
            assert!(entries
                .windows(2)
                .all(|w| w[0].start <= w[1].start && w[0].id < w[1].id));
            assert!(entries.last().unwrap().start.timestamp() < END);
        }
        // The newest entries are the same whatever the count.
        let small = generated(10, OutputFormat::Json, 3);
        let big = generated(1_000, OutputFormat::Json, 3);
        assert!(big.ends_with(&small));
    }

    #[test]
    fn line_protocol_holds_exactly_count_points_and_parses() {
        let text = generated(2_000, OutputFormat::Lp, 4);
        let lines: Vec<_> = influxdb_line_protocol::parse_lines(&text)
            .map(|l| l.unwrap())
            .collect();
        assert_eq!(lines.len(), 2_000);
        assert!(lines.iter().all(|l| l.timestamp.unwrap() < END));
        assert_eq!(generated(2_000, OutputFormat::Lp, 4), text, "deterministic");
    }

    #[test]
    fn a_world_without_users_is_an_error_not_a_hang() {
        let mut world = World::generate(1, &WorldConfig::default());
        world.users.clear();
        let mut out = Vec::new();
        let err = write_from_world(&mut out, &world, 5, OutputFormat::Lp, 1, END).unwrap_err();
        assert!(err.to_string().contains("only 0 of 5"), "{err}");
    }

    #[test]
    fn zero_count_writes_nothing() {
        assert!(generated(0, OutputFormat::Json, 1).is_empty());
    }

    #[test]
    fn world_grows_with_count_but_stays_bounded() {
        let small = world_config_for(10);
        assert_eq!((small.workspaces, small.users_per_workspace), (1, 50));
        let big = world_config_for(100_000_000);
        assert_eq!(big.workspaces, 50);
        assert!(big.users_per_workspace <= 200);
    }
}
