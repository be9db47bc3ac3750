//! Reading the files a scenario names (the scenario itself, its dashboard, secret
//! files) with a size cap, refusing what is not a regular file.
//!
//! `dashboard = "/dev/zero"` would otherwise read until memory runs out, and a
//! FIFO would block forever on open: both are refused from their metadata, and a
//! file that grows while read is cut at its cap plus one byte and refused.

use std::io::Read;
use std::path::Path;

/// The largest scenario file read (1 MiB).
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;
/// The largest dashboard export read (64 MiB: large exports are a few MB).
pub const MAX_DASHBOARD_BYTES: u64 = 64 << 20;
/// The largest secret file read (64 KiB).
pub const MAX_SECRET_BYTES: u64 = 64 << 10;

/// Read `path` whole if it is a regular file of at most `cap` bytes. The error
/// says why (its kind, or its size) without the path: callers locate it.
pub fn read_capped(path: &Path, cap: u64, what: &str) -> Result<Vec<u8>, String> {
    let cannot = |e: std::io::Error| format!("cannot read {what}: {e}");
    // Metadata first (following links): opening a FIFO would block.
    let meta = std::fs::metadata(path).map_err(cannot)?;
    check_kind(&meta, cap, what)?;
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::with_capacity(meta.len().min(cap) as usize);
    file.take(cap + 1).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() as u64 > cap {
        return Err(format!(
            "{what} grew above the {} a {what} may have while read",
            format_size(cap)
        ));
    }
    Ok(bytes)
}

fn check_kind(meta: &std::fs::Metadata, cap: u64, what: &str) -> Result<(), String> {
    let kind = meta.file_type();
    if !kind.is_file() {
        let is = if kind.is_dir() {
            "a directory"
        } else {
            "a device, FIFO or socket"
        };
        return Err(format!("a {what} must be a regular file, not {is}"));
    }
    if meta.len() > cap {
        return Err(format!(
            "{what} is {} ({} bytes), above the {} a {what} may have",
            format_size(meta.len()),
            meta.len(),
            format_size(cap)
        ));
    }
    Ok(())
}

/// Bytes as `1.5 MiB`, `64 KiB`, `12 B`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Text that must be UTF-8; the error gives `line:column` of the first invalid
/// byte (column in characters, as TOML and JSON errors count) and its value.
pub fn utf8(bytes: Vec<u8>) -> Result<String, (usize, usize, String)> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        let before = std::str::from_utf8(&bytes[..valid]).unwrap_or("");
        let (line, column) = line_column(before);
        let why = format!("not UTF-8: invalid byte 0x{:02X}", bytes[valid]);
        (line, column, why)
    })
}

/// The 1-based line and column (in characters) just after `before`.
pub fn line_column(before: &str) -> (usize, usize) {
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_regular_and_oversized_files_are_refused_with_path_and_size() {
        let e = read_capped(Path::new("/dev/zero"), 1024, "dashboard").unwrap_err();
        assert_eq!(
            e,
            "a dashboard must be a regular file, not a device, FIFO or socket"
        );
        let dir = tempfile::tempdir().unwrap();
        let e = read_capped(dir.path(), 1024, "scenario").unwrap_err();
        assert_eq!(e, "a scenario must be a regular file, not a directory");
        let big = dir.path().join("big.json");
        std::fs::write(&big, vec![b' '; 3000]).unwrap();
        let e = read_capped(&big, 2048, "dashboard").unwrap_err();
        assert_eq!(
            e,
            "dashboard is 2.9 KiB (3000 bytes), above the 2 KiB a dashboard may have"
        );
        assert_eq!(read_capped(&big, 3000, "dashboard").unwrap().len(), 3000);
    }

    #[test]
    fn invalid_utf8_is_located_at_its_first_bad_byte() {
        let (line, column, why) = utf8(b"a = 1\nb = \"\xc3\xa9\xff\"\n".to_vec()).unwrap_err();
        assert_eq!((line, column), (2, 7));
        assert_eq!(why, "not UTF-8: invalid byte 0xFF");
        assert_eq!(utf8(b"ok".to_vec()).unwrap(), "ok");
    }
}
