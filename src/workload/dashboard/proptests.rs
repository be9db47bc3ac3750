//! Property tests on dashboard import: any JSON (the shipped export with any
//! value anywhere, or arbitrary text) gives a dashboard or an error located in
//! its file, never a panic; a dashboard that loads also expands every query.

use proptest::prelude::*;
use serde_json::Value;

use super::*;

const SOURCE: &str = "dash.json";

fn shipped_text() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/dashboards/toggl-overview.json"
    );
    std::fs::read_to_string(path).unwrap()
}

/// Every JSON pointer of a value, the root included.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                pointers(
                    child,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// Values a dashboard field could hold, and many it should not.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[ -~]{0,12}".prop_map(Value::String),
        "(now|\\$|\\[\\[|\\$\\{)[-+/a-zA-Z0-9_:{}\\[\\]]{0,16}".prop_map(Value::String),
        "[0-9]{1,22}(ms|s|m|h|d|w|M|y)".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The error is a configuration error located in the dashboard file.
fn assert_located(e: &Error) {
    match e {
        Error::Config { location, .. } => assert!(location.starts_with(SOURCE), "{e}"),
        other => panic!("not a configuration error: {other}"),
    }
}

/// Import, then expand everything `check` and a viewer would.
fn import_and_expand(text: &str) {
    match parse(text, SOURCE) {
        Err(e) => assert_located(&e),
        Ok(d) => {
            let range = TimeRange::parse("now-7d", "now").unwrap();
            let selections = d.saved_selections();
            let view = View::new(&d, &range, 1_763_856_000_000, &selections);
            let _ = view.variable_requests(Trigger::Load);
            for req in view.panel_requests() {
                let _ = view.ds_query_body(&req);
            }
        }
    }
}

proptest! {
    #![proptest_config(crate::proptest_support::config(48))]

    #[test]
    fn prop_any_value_anywhere_in_an_export_imports_or_is_located(
        pick in any::<prop::sample::Index>(),
        value in any_json(),
    ) {
        let mut root: Value = serde_json::from_str(&shipped_text()).unwrap();
        let mut all = Vec::new();
        pointers(&root, String::new(), &mut all);
        let at = &all[pick.index(all.len())];
        match root.pointer_mut(at) {
            Some(slot) => *slot = value,
            None => prop_assert!(false, "pointer {at}"),
        }
        import_and_expand(&root.to_string());
    }

    #[test]
    fn prop_damaged_export_text_imports_or_is_located_at_line_and_column(
        cut in any::<prop::sample::Index>(),
        insert in "[\\[\\]{}\",:0-9a-z\\\\ \n]{0,6}",
        drop in 0usize..8,
    ) {
        let text = shipped_text();
        let mut at = cut.index(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let mut end = (at + drop).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let damaged = format!("{}{insert}{}", &text[..at], &text[end..]);
        if let Err(e) = parse(&damaged, SOURCE) {
            assert_located(&e);
            if serde_json::from_str::<Value>(&damaged).is_err() {
                // A syntax error carries line:column.
                let location = match &e { Error::Config { location, .. } => location.clone(), _ => String::new() };
                let parts: Vec<&str> = location.rsplitn(3, ':').collect();
                prop_assert!(parts.len() == 3 && parts[0].parse::<u32>().is_ok() && parts[1].parse::<u32>().is_ok(), "{e}");
            }
        } else {
            import_and_expand(&damaged);
        }
    }

    #[test]
    fn prop_arbitrary_text_never_panics(text in any::<String>()) {
        if let Err(e) = parse(&text, SOURCE) {
            assert_located(&e);
        }
    }
}
