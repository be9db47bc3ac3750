//! `--baseline DIR|last-passed|median:N`: which runs a run is compared with.
//!
//! `last-passed` and `median:N` choose from the reports folder's history
//! ([`crate::history`]): runs of the same scenario name and digest that are
//! complete, passed, not interrupted and did not regress, newest first. None
//! found is not an error: the run is judged on its SLOs alone and says so.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The most runs `median:N` takes: each is read again from its request log.
pub const MAX_MEDIAN: usize = 20;

/// What `--baseline` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineArg {
    /// A run folder.
    Dir(PathBuf),
    /// The newest passed run of this scenario.
    LastPassed,
    /// The last N passed runs of this scenario, their median.
    Median(usize),
}

/// Parse a `--baseline` value (clap's value parser: an error exits 2 and names
/// the value). A folder literally named `last-passed` is `./last-passed`.
pub fn parse(value: &str) -> std::result::Result<BaselineArg, String> {
    if value == "last-passed" {
        return Ok(BaselineArg::LastPassed);
    }
    if let Some(n) = value.strip_prefix("median:") {
        return match n.parse::<usize>() {
            Ok(n @ 1..=MAX_MEDIAN) => Ok(BaselineArg::Median(n)),
            _ => Err(format!(
                "`median:{n}`: N must be a whole number from 1 to {MAX_MEDIAN}"
            )),
        };
    }
    Ok(BaselineArg::Dir(PathBuf::from(value)))
}

/// The baselines of a run, read before its load.
pub struct Chosen {
    /// Their folders, newest first.
    pub dirs: Vec<PathBuf>,
    /// How they were chosen, in words (history only).
    pub selection: Option<String>,
    /// Each one read and analysed, in the order of `dirs`.
    pub loaded: Vec<crate::report::LoadedBaseline>,
}

/// The baselines `arg` names for a run of `scenario` with run folders under
/// `reports`, read and analysed now, before the load, and how they were chosen
/// (said on stderr too). A folder named on the command line that cannot be
/// read is a usage error (exit 2, nothing sent); one chosen from the history
/// that cannot be read is dropped with a warning naming it, and the next older
/// one is taken in its place.
pub fn resolve(
    arg: &BaselineArg,
    scenario: &crate::scenario::Scenario,
    reports: &Path,
) -> Result<Chosen> {
    let n = match arg {
        BaselineArg::Dir(dir) => {
            if !dir.join(crate::runfolder::files::RUN_META).is_file() {
                return Err(Error::Usage(format!(
                    "--baseline {}: not a run folder (no run.json)",
                    dir.display()
                )));
            }
            let loaded = crate::report::load_baseline(dir, false)
                .map_err(|e| Error::Usage(format!("--baseline: {e}")))?;
            return Ok(Chosen {
                dirs: vec![dir.clone()],
                selection: None,
                loaded: vec![loaded],
            });
        }
        BaselineArg::LastPassed => 1,
        BaselineArg::Median(n) => *n,
    };
    let candidates =
        crate::history::last_passed_n(reports, &scenario.name, &scenario.digest, usize::MAX);
    let mut dirs = Vec::new();
    let mut loaded = Vec::new();
    let mut dropped = Vec::new();
    for run in candidates {
        if dirs.len() == n || dropped.len() == MAX_DROPPED {
            break;
        }
        match crate::report::load_baseline(&run.dir, false) {
            Ok(l) => {
                dirs.push(run.dir);
                loaded.push(l);
            }
            Err(e) => {
                eprintln!(
                    "dashload: warning: baseline {} dropped: it cannot be read ({e})",
                    run.dir.display()
                );
                dropped.push(run.dir);
            }
        }
    }
    let what = match arg {
        BaselineArg::Median(_) => format!(
            "the median of the last {n} passed runs of {} with this scenario digest",
            scenario.name
        ),
        _ => format!(
            "the newest passed run of {} with this scenario digest",
            scenario.name
        ),
    };
    let mut sentence = selection(&what, n, dirs.len(), reports);
    if !dropped.is_empty() {
        let names: Vec<String> = dropped.iter().map(|d| d.display().to_string()).collect();
        sentence += &format!(
            " ({} unreadable, dropped: {})",
            names.len(),
            names.join(", ")
        );
    }
    let list: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    if list.is_empty() {
        eprintln!("dashload: baseline: {sentence}");
    } else {
        eprintln!("dashload: baseline: {sentence}: {}", list.join(", "));
    }
    Ok(Chosen {
        dirs,
        selection: Some(sentence),
        loaded,
    })
}

/// The most unreadable history folders tried before giving up the search.
const MAX_DROPPED: usize = 20;

/// How the baselines were chosen: "<what>" / "<what> (only 2 of 3 found)" /
/// "<what>: none under reports: judged on its SLOs alone".
fn selection(what: &str, asked: usize, found: usize, reports: &Path) -> String {
    match found {
        0 => format!(
            "{what}: none under {}: judged on its SLOs alone",
            reports.display()
        ),
        n if n < asked => format!("{what} (only {n} of {asked} found)"),
        _ => what.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_and_bad_counts_name_the_value() {
        assert_eq!(parse("last-passed"), Ok(BaselineArg::LastPassed));
        assert_eq!(parse("median:3"), Ok(BaselineArg::Median(3)));
        assert_eq!(parse("median:20"), Ok(BaselineArg::Median(20)));
        assert_eq!(
            parse("reports/x"),
            Ok(BaselineArg::Dir(PathBuf::from("reports/x")))
        );
        for bad in [
            "median:0",
            "median:21",
            "median:",
            "median:three",
            "median:-1",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn the_selection_says_how_many_were_found() {
        let r = Path::new("reports");
        assert_eq!(selection("x", 3, 2, r), "x (only 2 of 3 found)");
        assert_eq!(selection("x", 2, 2, r), "x");
        assert_eq!(
            selection("x", 3, 0, r),
            "x: none under reports: judged on its SLOs alone"
        );
    }
}
