//! A query variable's `regex` as Grafana's browser runs it: an ECMAScript
//! regular expression (look-arounds, named groups, flags), with the `regress`
//! engine rather than Rust's `regex`, which refuses look-arounds.
//!
//! - `stringToJsRegex` (`@grafana/data` `text.ts`): `/pattern/flags` with the
//!   flags `g?i?m?y?s?` in that order, or any other text as `^text$`;
//!   anything else is "not a valid regular expression".
//! - `metricNamesToVariableValues` (`public/app/features/variables/utils.ts`,
//!   Grafana 9+): every match of a value (all of them with `g`); named groups
//!   `value` and `text` give the option's value and text; otherwise several
//!   matches with a group give one option each, one match its first group,
//!   and no group the value itself; a value without a match is left out.

use regress::Regex;

/// A compiled variable regex.
#[derive(Debug)]
pub struct JsRegex {
    re: Regex,
    global: bool,
    sticky: bool,
}

/// One match: its capture groups (`None` when a group did not take part).
struct Found {
    groups: Vec<Option<String>>,
    text: Option<String>,
    value: Option<String>,
}

impl JsRegex {
    /// `stringToJsRegex`; the error says why JavaScript would refuse it.
    pub fn parse(text: &str) -> Result<JsRegex, String> {
        let (pattern, flags) = match text.strip_prefix('/') {
            None => (format!("^{text}$"), ""),
            Some(rest) => {
                let (pattern, flags) = rest
                    .rsplit_once('/')
                    .filter(|(_, f)| flags_in_order(f))
                    .ok_or_else(|| format!("{text:?} is not a valid regular expression (expected /pattern/flags, flags among g, i, m, y, s in that order)"))?;
                (pattern.to_string(), flags)
            }
        };
        let re = Regex::with_flags(&pattern, flags)
            .map_err(|e| format!("{text:?} is not a valid JavaScript regular expression: {e}"))?;
        Ok(JsRegex {
            re,
            global: flags.contains('g'),
            sticky: flags.contains('y'),
        })
    }

    /// Grafana's `getAllMatches`: `exec` from index 0, again from each match's
    /// end while the regex is global and the match not empty.
    fn all_matches(&self, value: &str) -> Vec<Found> {
        let mut found = Vec::new();
        let mut at = 0;
        while let Some(m) = self.re.find_from(value, at).next() {
            if self.sticky && m.start() != at {
                break;
            }
            let text = |r: Option<regress::Range>| r.map(|r| value[r].to_string());
            found.push(Found {
                groups: m.captures.iter().map(|c| text(c.clone())).collect(),
                text: text(m.named_group("text")),
                value: text(m.named_group("value")),
            });
            if !self.global || m.range().is_empty() {
                break;
            }
            at = m.end();
        }
        found
    }

    /// The options (text, value) one queried value gives; none when it does
    /// not match.
    pub fn options(&self, value: &str) -> Vec<(String, String)> {
        let matches = self.all_matches(value);
        if matches.is_empty() {
            return Vec::new();
        }
        // A group counts when it matched something (JavaScript's truthiness).
        let named = |pick: fn(&Found) -> &Option<String>| {
            matches
                .iter()
                .find_map(|m| pick(m).clone().filter(|s| !s.is_empty()))
        };
        let value_group = named(|m| &m.value);
        let text_group = named(|m| &m.text);
        if value_group.is_some() || text_group.is_some() {
            let v = value_group
                .clone()
                .or(text_group.clone())
                .unwrap_or_default();
            let t = text_group.or(value_group).unwrap_or_default();
            return vec![(t, v)];
        }
        let first_group = |m: &Found| m.groups.first().cloned().flatten().unwrap_or_default();
        let has_group = matches.first().is_some_and(|m| !m.groups.is_empty());
        match (has_group, matches.len()) {
            (true, 1) => {
                let g = first_group(&matches[0]);
                vec![(g.clone(), g)]
            }
            (true, _) => matches
                .iter()
                .map(|m| {
                    let g = first_group(m);
                    (g.clone(), g)
                })
                .collect(),
            (false, _) => vec![(value.to_string(), value.to_string())],
        }
    }
}

/// `g?i?m?y?s?`: each at most once, in this order.
fn flags_in_order(flags: &str) -> bool {
    let mut order = "gimys".chars();
    flags.chars().all(|c| order.by_ref().any(|o| o == c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(re: &str, answer: &[&str]) -> Vec<(String, String)> {
        let re = JsRegex::parse(re).unwrap();
        answer.iter().flat_map(|v| re.options(v)).collect()
    }

    fn plain(v: &[(String, String)]) -> Vec<&str> {
        v.iter().map(|(_, v)| v.as_str()).collect()
    }

    /// Issue 23: a negative look-ahead was ignored (every value kept).
    #[test]
    fn look_aheads_filter_as_in_javascript() {
        let ifaces = ["eth0", "veth12ab", "lo", "all", "tap3", "wlan0"];
        assert_eq!(
            plain(&values("/^(?!.*veth|all|tap).*$/", &ifaces)),
            ["eth0", "lo", "wlan0"]
        );
    }

    /// The table of Grafana's `public/app/features/variables/utils.test.ts`
    /// (`describe('metricNamesToVariableValues')`), options de-duplicated by
    /// value as there; JavaScript's `undefined` (a group that took no part) is
    /// the empty text here.
    #[test]
    fn grafanas_own_table_of_regexes_and_groups() {
        let names = [9090, 9091, 9093, 9100].map(|port| {
            let job = match port {
                9090 => "prometheus",
                9091 => "pushgateway",
                9093 => "alertmanager",
                _ => "node",
            };
            format!(
                "go_info{{instance=\"demo.robustperception.io:{port}\",job=\"{job}\",version=\"go1.15.6\"}} 1 1613047998000"
            )
        });
        let run = |re: &str| -> Vec<(String, String)> {
            let re = JsRegex::parse(re).unwrap();
            let mut out: Vec<(String, String)> = Vec::new();
            for n in &names {
                for o in re.options(n) {
                    if !out.iter().any(|x| x.1 == o.1) {
                        out.push(o);
                    }
                }
            }
            out
        };
        let same = |v: &[&str]| -> Vec<(String, String)> {
            v.iter().map(|s| (s.to_string(), s.to_string())).collect()
        };
        let all: Vec<&str> = names.iter().map(String::as_str).collect();
        let instances: Vec<String> = [9090, 9091, 9093, 9100]
            .iter()
            .map(|p| format!("demo.robustperception.io:{p}"))
            .collect();
        let inst: Vec<&str> = instances.iter().map(String::as_str).collect();
        let jobs = ["prometheus", "pushgateway", "alertmanager", "node"];
        let expected3: Vec<(String, String)> = jobs
            .iter()
            .zip(&inst)
            .map(|(j, i)| (j.to_string(), i.to_string()))
            .collect();
        let mut expected4 = same(&inst);
        expected4.insert(1, (String::new(), String::new()));
        let table: Vec<(&str, Vec<(String, String)>)> = vec![
            ("/unknown/", vec![]),
            ("/unknown/g", vec![]),
            ("/go/", same(&all)),
            ("/go/g", same(&all)),
            ("/(go)/", same(&["go"])),
            ("/(go)/g", same(&["go"])),
            ("/(go)?/", same(&["go"])),
            ("/(go)?/g", same(&["go", ""])),
            ("/go(\\w+)/", same(&["_info"])),
            ("/go(\\w+)/g", same(&["_info", "1"])),
            ("/.*_(\\w+)\\{/", same(&["info"])),
            ("/.*_(\\w+)\\{/g", same(&["info"])),
            ("/instance=\"(?<value>[^\"]+)/", same(&inst)),
            ("/instance=\"(?<value>[^\"]+)/g", same(&inst)),
            ("/instance=\"(?<grp1>[^\"]+)/", same(&inst)),
            ("/instance=\"(?<grp1>[^\"]+)/g", same(&inst)),
            ("/instancee=\"(?<value>[^\"]+)/", vec![]),
            ("/job=\"(?<text>[^\"]+)/", same(&jobs)),
            ("/job=\"(?<text>[^\"]+)/g", same(&jobs)),
            ("/job=\"(?<grp2>[^\"]+)/", same(&jobs)),
            ("/jobb=\"(?<text>[^\"]+)/g", vec![]),
            (
                "/instance=\"(?<value>[^\"]+)|job=\"(?<text>[^\"]+)/",
                same(&inst),
            ),
            (
                "/instance=\"(?<value>[^\"]+)|job=\"(?<text>[^\"]+)/g",
                expected3.clone(),
            ),
            (
                "/instance=\"(?<grp1>[^\"]+)|job=\"(?<grp2>[^\"]+)/",
                same(&inst),
            ),
            (
                "/instance=\"(?<grp1>[^\"]+)|job=\"(?<grp2>[^\"]+)/g",
                expected4,
            ),
            (
                "/instance=\"(?<value>[^\"]+).*job=\"(?<text>[^\"]+)/",
                expected3.clone(),
            ),
            (
                "/instance=\"(?<value>[^\"]+).*job=\"(?<text>[^\"]+)/g",
                expected3,
            ),
            (
                "/instance=\"(?<grp1>[^\"]+).*job=\"(?<grp2>[^\"]+)/",
                same(&inst),
            ),
            (
                "/instance=\"(?<grp1>[^\"]+).*job=\"(?<grp2>[^\"]+)/g",
                same(&inst),
            ),
        ];
        for (re, want) in table {
            assert_eq!(run(re), want, "{re}");
        }
    }

    #[test]
    fn groups_and_named_groups_as_grafana_reads_them() {
        // The first group.
        assert_eq!(plain(&values("/web-(.*)/", &["web-1", "db-2"])), ["1"]);
        // Named groups: value and text.
        let v = values(
            "/(?<text>[^,]+),(?<value>[^,]+)/",
            &["Server A,srv-a", "Server B,srv-b"],
        );
        assert_eq!(
            v,
            [
                ("Server A".to_string(), "srv-a".to_string()),
                ("Server B".to_string(), "srv-b".to_string())
            ]
        );
        // Only a value group: the text is the value.
        assert_eq!(
            values("/id=(?<value>\\d+)/", &["host id=42"]),
            [("42".to_string(), "42".to_string())]
        );
        // Global with a group: one option per match.
        assert_eq!(plain(&values("/(\\w+)=\\w+/g", &["a=1 b=2"])), ["a", "b"]);
        // No group: the value itself; no slashes: anchored.
        assert_eq!(plain(&values("/^web/i", &["Web-1", "db"])), ["Web-1"]);
        assert_eq!(
            plain(&values("web-.", &["web-1", "xweb-1", "web-12"])),
            ["web-1"]
        );
    }

    #[test]
    fn regexes_javascript_refuses_are_errors() {
        for bad in [
            "/(unclosed/",
            "/a/x",
            "/a/ig",
            "/[z-a]/",
            "/a{2,1}/",
            "(?<n>a)(?<n>b)",
        ] {
            let e = JsRegex::parse(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
        // `u` is not among the flags `stringToJsRegex` accepts.
        assert!(JsRegex::parse("/a/u").is_err());
        for good in ["/a/gimys", "/a/", "/(?<=x)y/", "plain", "/a/gs"] {
            assert!(JsRegex::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn sticky_and_empty_matches_end_the_search() {
        // `y`: only at the start.
        assert!(values("/b/y", &["ab"]).is_empty());
        assert_eq!(plain(&values("/a/y", &["ab"])), ["ab"]);
        // A global regex that matches empty does not loop.
        assert_eq!(plain(&values("/x*/g", &["abc"])), ["abc"]);
    }
}
