//! The in-memory series store: database → measurement → series → time-sorted points.
//!
//! It keeps what InfluxDB 1.x keeps and nothing more: a series is a measurement plus a
//! sorted tag set, its points are sorted by timestamp (nanoseconds), and each point holds
//! typed fields. Writing the same series and timestamp again is an upsert: fields are
//! merged and the newer value wins. A field's type is fixed per measurement (InfluxDB
//! fixes it per shard, a week by default; the sandbox has one shard), so a conflicting
//! write is refused with InfluxDB's message.
//!
//! Points live in columns per series (`times` plus one `Vec<Option<Value>>` per field),
//! so a query binary-searches the time bounds and walks one column. Each measurement
//! keeps an index of tag key → value → series for `SHOW TAG VALUES` and filters.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// The type of a field, fixed per measurement once written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FieldType {
    /// 64-bit float (`1.5`).
    Float,
    /// 64-bit signed integer (`3i`).
    Integer,
    /// String (`"text"`).
    String,
    /// Boolean (`t`, `true`, `f`, `false`).
    Boolean,
}

impl FieldType {
    /// The name InfluxDB uses in messages and `SHOW FIELD KEYS`.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Float => "float",
            FieldType::Integer => "integer",
            FieldType::String => "string",
            FieldType::Boolean => "boolean",
        }
    }
}

/// A stored field value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// Float.
    Float(f64),
    /// Integer.
    Integer(i64),
    /// String (shared, since query results copy it).
    String(Arc<str>),
    /// Boolean.
    Boolean(bool),
}

impl FieldValue {
    /// Its type.
    pub fn field_type(&self) -> FieldType {
        match self {
            FieldValue::Float(_) => FieldType::Float,
            FieldValue::Integer(_) => FieldType::Integer,
            FieldValue::String(_) => FieldType::String,
            FieldValue::Boolean(_) => FieldType::Boolean,
        }
    }
}

/// A sorted tag set: `(key, value)` pairs in key order, keys unique.
pub type Tags = Vec<(String, String)>;

/// One point to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Measurement name.
    pub measurement: String,
    /// Tags, sorted by key (see [`Point::new`]).
    pub tags: Tags,
    /// Fields, at least one.
    pub fields: Vec<(String, FieldValue)>,
    /// Timestamp, ns since the epoch.
    pub time: i64,
}

impl Point {
    /// A point; sorts the tags by key and drops empty tag values as InfluxDB does.
    pub fn new(
        measurement: impl Into<String>,
        mut tags: Tags,
        fields: Vec<(String, FieldValue)>,
        time: i64,
    ) -> Point {
        tags.retain(|(_, v)| !v.is_empty());
        tags.sort();
        tags.dedup_by(|a, b| a.0 == b.0);
        Point {
            measurement: measurement.into(),
            tags,
            fields,
            time,
        }
    }
}

/// A write refused because a field already has another type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTypeConflict {
    /// InfluxDB's message, e.g. `field type conflict: input field "x" on measurement "m"
    /// is type float, already exists as type integer`.
    pub message: String,
}

/// One series: its tags and its points, sorted by time, one column per field.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Sorted tag set.
    pub tags: Tags,
    /// Timestamps (ns), strictly increasing.
    pub times: Vec<i64>,
    /// One column per field id of the measurement; shorter than the field list when
    /// later fields never reached this series (read those as all-`None`).
    pub columns: Vec<Vec<Option<FieldValue>>>,
}

impl Series {
    /// The value of tag `key`, or `""` when the series does not have it (as InfluxDB reads it).
    pub fn tag(&self, key: &str) -> &str {
        self.tags
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .map(|i| self.tags[i].1.as_str())
            .unwrap_or("")
    }

    /// The index range of points with `min <= time <= max`.
    pub fn range(&self, min: i64, max: i64) -> std::ops::Range<usize> {
        if min > max {
            return 0..0;
        }
        let start = self.times.partition_point(|&t| t < min);
        let end = self.times.partition_point(|&t| t <= max);
        start..end.max(start)
    }

    /// The value of field `field_id` at point `i`.
    pub fn value(&self, field_id: usize, i: usize) -> Option<&FieldValue> {
        self.columns.get(field_id).and_then(|c| c[i].as_ref())
    }

    fn upsert(&mut self, time: i64, fields: &[(usize, FieldValue)]) -> bool {
        let max_field = fields.iter().map(|(id, _)| *id + 1).max().unwrap_or(0);
        while self.columns.len() < max_field {
            self.columns.push(vec![None; self.times.len()]);
        }
        let (pos, inserted) = match self.times.last() {
            Some(&last) if last < time => (self.times.len(), true),
            None => (0, true),
            _ => match self.times.binary_search(&time) {
                Ok(pos) => (pos, false),
                Err(pos) => (pos, true),
            },
        };
        if inserted {
            self.times.insert(pos, time);
            for column in &mut self.columns {
                column.insert(pos, None);
            }
        }
        for (id, value) in fields {
            self.columns[*id][pos] = Some(value.clone());
        }
        inserted
    }
}

/// A measurement: its series, field types and tag index.
#[derive(Debug, Clone, Default)]
pub struct Measurement {
    /// Series, indexed by series id (creation order).
    pub series: Vec<Series>,
    series_ids: HashMap<Tags, usize>,
    /// Field names and types, indexed by field id.
    pub fields: Vec<(String, FieldType)>,
    field_ids: HashMap<String, usize>,
    /// Tag key → tag value → series ids having it.
    pub tag_index: BTreeMap<String, BTreeMap<String, Vec<usize>>>,
    /// Points stored (distinct series + timestamp).
    pub points: u64,
}

impl Measurement {
    /// The id of field `name`, if any point has it.
    pub fn field_id(&self, name: &str) -> Option<usize> {
        self.field_ids.get(name).copied()
    }

    /// The type of field `name`.
    pub fn field_type(&self, name: &str) -> Option<FieldType> {
        self.field_id(name).map(|id| self.fields[id].1)
    }

    /// Whether some series has tag key `key`.
    pub fn has_tag_key(&self, key: &str) -> bool {
        self.tag_index.contains_key(key)
    }

    /// All tag keys, sorted.
    pub fn tag_keys(&self) -> impl Iterator<Item = &str> {
        self.tag_index.keys().map(String::as_str)
    }

    fn check_types(&self, name: &str, fields: &[(String, FieldValue)]) -> Result<(), String> {
        let mut seen: HashMap<&str, FieldType> = HashMap::new();
        for (key, value) in fields {
            let have = self
                .field_type(key)
                .or_else(|| seen.get(key.as_str()).copied());
            let want = value.field_type();
            if let Some(have) = have {
                if have != want {
                    return Err(format!(
                        "field type conflict: input field \"{key}\" on measurement \"{name}\" is type {}, already exists as type {}",
                        want.name(),
                        have.name()
                    ));
                }
            }
            seen.insert(key, want);
        }
        Ok(())
    }

    fn write(&mut self, point: &Point) -> bool {
        let ids: Vec<(usize, FieldValue)> = point
            .fields
            .iter()
            .map(|(key, value)| {
                let id = match self.field_ids.get(key) {
                    Some(&id) => id,
                    None => {
                        self.fields.push((key.clone(), value.field_type()));
                        self.field_ids.insert(key.clone(), self.fields.len() - 1);
                        self.fields.len() - 1
                    }
                };
                (id, value.clone())
            })
            .collect();
        let series_id = match self.series_ids.get(&point.tags) {
            Some(&id) => id,
            None => {
                let id = self.series.len();
                self.series.push(Series {
                    tags: point.tags.clone(),
                    ..Series::default()
                });
                self.series_ids.insert(point.tags.clone(), id);
                for (k, v) in &point.tags {
                    self.tag_index
                        .entry(k.clone())
                        .or_default()
                        .entry(v.clone())
                        .or_default()
                        .push(id);
                }
                id
            }
        };
        let inserted = self.series[series_id].upsert(point.time, &ids);
        if inserted {
            self.points += 1;
        }
        inserted
    }
}

/// One database: its measurements by name.
#[derive(Debug, Clone, Default)]
pub struct Database {
    /// Measurements by name.
    pub measurements: BTreeMap<String, Measurement>,
}

impl Database {
    /// Write one point (upsert); a field type conflict drops the whole point.
    pub fn write_point(&mut self, point: &Point) -> Result<(), FieldTypeConflict> {
        if let Some(m) = self.measurements.get(&point.measurement) {
            m.check_types(&point.measurement, &point.fields)
                .map_err(|message| FieldTypeConflict { message })?;
        } else {
            Measurement::default()
                .check_types(&point.measurement, &point.fields)
                .map_err(|message| FieldTypeConflict { message })?;
        }
        self.measurements
            .entry(point.measurement.clone())
            .or_default()
            .write(point);
        Ok(())
    }

    /// Points stored over all measurements.
    pub fn point_count(&self) -> u64 {
        self.measurements.values().map(|m| m.points).sum()
    }
}

/// All databases.
#[derive(Debug, Clone, Default)]
pub struct Store {
    /// Databases by name.
    pub databases: BTreeMap<String, Database>,
}

impl Store {
    /// A store with the given (empty) databases.
    pub fn with_databases<'a>(names: impl IntoIterator<Item = &'a str>) -> Store {
        let mut store = Store::default();
        for name in names {
            store.create_database(name);
        }
        store
    }

    /// Create a database; idempotent, like InfluxDB.
    pub fn create_database(&mut self, name: &str) {
        self.databases.entry(name.to_string()).or_default();
    }

    /// Drop a database; idempotent.
    pub fn drop_database(&mut self, name: &str) {
        self.databases.remove(name);
    }

    /// A database by name.
    pub fn database(&self, name: &str) -> Option<&Database> {
        self.databases.get(name)
    }

    /// A database by name, for writing.
    pub fn database_mut(&mut self, name: &str) -> Option<&mut Database> {
        self.databases.get_mut(name)
    }

    /// Distinct tag values of `key` in `measurement`, sorted.
    pub fn tag_values(&self, db: &str, measurement: &str, key: &str) -> BTreeSet<String> {
        self.database(db)
            .and_then(|d| d.measurements.get(measurement))
            .and_then(|m| m.tag_index.get(key))
            .map(|values| values.keys().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(tags: &[(&str, &str)], fields: Vec<(&str, FieldValue)>, time: i64) -> Point {
        Point::new(
            "m",
            tags.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            time,
        )
    }

    #[test]
    fn same_series_and_time_is_an_upsert_that_merges_fields() {
        let mut db = Database::default();
        db.write_point(&point(
            &[("b", "2"), ("a", "1")],
            vec![("x", FieldValue::Integer(1)), ("y", FieldValue::Float(0.5))],
            10,
        ))
        .unwrap();
        db.write_point(&point(
            &[("a", "1"), ("b", "2")],
            vec![("x", FieldValue::Integer(7))],
            10,
        ))
        .unwrap();
        let m = &db.measurements["m"];
        assert_eq!(m.points, 1);
        assert_eq!(m.series.len(), 1);
        let s = &m.series[0];
        assert_eq!(
            s.value(m.field_id("x").unwrap(), 0),
            Some(&FieldValue::Integer(7))
        );
        assert_eq!(
            s.value(m.field_id("y").unwrap(), 0),
            Some(&FieldValue::Float(0.5))
        );
    }

    #[test]
    fn points_stay_sorted_when_written_out_of_order() {
        let mut db = Database::default();
        for t in [30, 10, 20, 40, 5] {
            db.write_point(&point(&[], vec![("x", FieldValue::Integer(t))], t))
                .unwrap();
        }
        let s = &db.measurements["m"].series[0];
        assert_eq!(s.times, vec![5, 10, 20, 30, 40]);
        let xs: Vec<_> = (0..5).map(|i| s.value(0, i).cloned()).collect();
        assert_eq!(xs[0], Some(FieldValue::Integer(5)));
        assert_eq!(xs[4], Some(FieldValue::Integer(40)));
        assert_eq!(s.range(10, 30), 1..4);
        assert_eq!(s.range(11, 19), 2..2);
        assert_eq!(s.range(50, 40), 0..0);
    }

    #[test]
    fn a_field_keeps_its_type() {
        let mut db = Database::default();
        db.write_point(&point(&[], vec![("d", FieldValue::Integer(1))], 1))
            .unwrap();
        let err = db
            .write_point(&point(&[], vec![("d", FieldValue::Float(1.5))], 2))
            .unwrap_err();
        assert_eq!(
            err.message,
            "field type conflict: input field \"d\" on measurement \"m\" is type float, already exists as type integer"
        );
        assert_eq!(db.point_count(), 1);
    }

    #[test]
    fn tag_index_lists_values_and_series() {
        let mut store = Store::with_databases(["db"]);
        let db = store.database_mut("db").unwrap();
        db.write_point(&point(
            &[("p", "b")],
            vec![("x", FieldValue::Integer(1))],
            1,
        ))
        .unwrap();
        db.write_point(&point(
            &[("p", "a")],
            vec![("x", FieldValue::Integer(1))],
            1,
        ))
        .unwrap();
        db.write_point(&point(
            &[("q", "z")],
            vec![("x", FieldValue::Integer(1))],
            1,
        ))
        .unwrap();
        let values: Vec<_> = store.tag_values("db", "m", "p").into_iter().collect();
        assert_eq!(values, vec!["a", "b"]);
        let m = &store.database("db").unwrap().measurements["m"];
        assert_eq!(m.series[2].tag("p"), "");
        assert_eq!(m.series[2].tag("q"), "z");
    }
}
