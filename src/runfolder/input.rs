//! Reading a run folder's files as untrusted input: a reports folder may hold
//! folders copied from elsewhere, damaged by a full disk or tampered with.
//!
//! A file is opened only when it is a regular file: a FIFO would block the
//! reader forever and a link to `/dev/zero` never ends, so neither is read
//! (the open itself does not block: `O_NONBLOCK`, then `fstat`). Whole-file
//! reads are capped, so a multi-GB `history.json` costs an error, not GBs.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The most bytes of `history.json` read (it is ~1 KB).
pub const HISTORY_CAP: u64 = 1 << 20;
/// The most bytes of `summary.json` read (~460 KB for a staged run; long
/// runs with many windows reach a few MB).
pub const SUMMARY_CAP: u64 = 256 << 20;
/// The most bytes of `run.json` read (its windows: a few MB at most).
pub const META_CAP: u64 = 64 << 20;
/// The most bytes of an auxiliary log read whole (`server.csv`, `cpu.csv`,
/// `sync.csv`, `faults.json`, `workers.json`): a day of scrapes every second is
/// ~50 MB.
pub const AUX_CAP: u64 = 512 << 20;

/// Open `path` for reading when it is a regular file (a link to one is
/// followed). `Ok(None)` when it does not exist; an `InvalidData` error naming
/// its kind when it is not a regular file.
pub fn open_regular(path: &Path) -> io::Result<Option<File>> {
    let file = match OpenOptions::new()
        .read(true)
        // Opening a FIFO for reading blocks until a writer comes: not with this.
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        return Ok(Some(file));
    }
    let what = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{what}, not a regular file"),
    ))
}

/// The whole of `path` when it is a regular file of at most `cap` bytes;
/// `Ok(None)` when it does not exist. Larger files are an `InvalidData` error
/// without reading more than `cap + 1` bytes.
pub fn read_capped(path: &Path, cap: u64) -> io::Result<Option<Vec<u8>>> {
    let Some(file) = open_regular(path)? else {
        return Ok(None);
    };
    let len = file.metadata()?.len();
    if len > cap {
        return Err(too_large(len, cap));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // The length may grow while reading: never past the cap.
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(too_large(bytes.len() as u64, cap));
    }
    Ok(Some(bytes))
}

/// [`read_capped`] as text: a byte that is not UTF-8 becomes U+FFFD, so the
/// line holding it fails to parse on its own instead of costing the file.
pub fn read_text(path: &Path, cap: u64) -> io::Result<Option<String>> {
    Ok(read_capped(path, cap)?.map(|b| match String::from_utf8(b) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }))
}

fn too_large(len: u64, cap: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{len} bytes, more than the {cap} this file may have"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_and_others_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"ok\xffrow\n").unwrap();
        assert_eq!(read_capped(&file, 100).unwrap().unwrap(), b"ok\xffrow\n");
        assert_eq!(read_text(&file, 100).unwrap().unwrap(), "ok\u{fffd}row\n");
        assert!(read_capped(&dir.path().join("missing"), 100)
            .unwrap()
            .is_none());

        let too_big = read_capped(&file, 3).unwrap_err();
        assert!(too_big.to_string().contains("7 bytes"), "{too_big}");

        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_capped(&fifo, 100).unwrap_err();
        assert!(e.to_string().contains("a FIFO"), "{e}");

        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let e = open_regular(&zero).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");

        let e = read_capped(dir.path(), 100).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
    }
}
