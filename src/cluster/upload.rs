//! Streaming file uploads from a worker to the manager (`PUT files/<i>/<name>`).
//!
//! The worker announces a file's SHA-256 and size (one hashing pass, [`CHUNK`]
//! reads) and then streams it (a second pass, [`CHUNK`] reads): a long run's
//! `requests.csv` can be hundreds of MB and is never in memory whole. The
//! manager writes the body to a temporary file in the worker's folder as it
//! arrives, hashing it, and renames it to its name only when size and checksum
//! match the announcement; a mismatch, a cut connection or a dropped handler
//! leaves no file under that name (nor a temporary one). Neither side holds
//! more than about one chunk of a file. Retries resend the whole file: the
//! files are written once at the run's end and a loopback or LAN resend is
//! cheaper than a resumable protocol's bookkeeping.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::error::{Error, Result};

/// The unit both sides read, hash and write a file in.
pub const CHUNK: usize = 256 * 1024;
/// Tries per file before the worker gives up (and keeps its run folder).
pub const TRIES: u32 = 3;

/// What a worker announces of a file before its bytes (the upload's query).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announced {
    /// Hex SHA-256 of the whole file.
    pub sha256: String,
    /// Its length in bytes.
    pub size: u64,
}

impl Announced {
    /// The upload route's query string.
    pub fn query(&self) -> String {
        format!("sha256={}&size={}", self.sha256, self.size)
    }
}

/// Hash a file in [`CHUNK`] reads: what to announce.
pub async fn announce(path: &Path) -> io::Result<Announced> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut buf = vec![0; CHUNK];
    let mut hash = Sha256::new();
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        size += n as u64;
    }
    Ok(Announced {
        sha256: hex::encode(hash.finalize()),
        size,
    })
}

/// The first `size` bytes of a file as a stream of chunks of at most [`CHUNK`]
/// bytes, read as the body is sent (never more than announced, should the
/// file have grown since).
pub async fn chunks(
    path: &Path,
    size: u64,
) -> io::Result<impl Stream<Item = io::Result<Bytes>> + Send + 'static> {
    let file = tokio::fs::File::open(path).await?;
    Ok(tokio_util::io::ReaderStream::with_capacity(
        file.take(size),
        CHUNK,
    ))
}

/// Signs one upload (`channel.rs`): the request's headers, and a check that
/// the manager signed its answer.
pub trait Signer: Sync {
    /// The headers of one try of `PUT <route>` (route and query as sent) and
    /// the sequence number they carry.
    fn sign_upload(&self, route: &str) -> (reqwest::header::HeaderMap, u64);
    /// True when the answer to request `seq` is the manager's.
    fn answer_holds(
        &self,
        seq: u64,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> bool;
}

/// Upload one file as `route` (the manager's `files/<i>/<name>`, without its
/// query) under `base` (the channel's root) with `extra` headers (the run id),
/// streamed and signed; retried [`TRIES`] times from the start. Returns what
/// was announced and accepted.
pub async fn send(
    client: &reqwest::Client,
    base: &str,
    route: &str,
    signer: &dyn Signer,
    extra: &reqwest::header::HeaderMap,
    path: &Path,
) -> Result<Announced> {
    let announced = announce(path).await.map_err(|e| Error::io(path, e))?;
    // No total timeout would do for a stalled manager; this one allows 1 MiB/s.
    let timeout = Duration::from_secs(60 + announced.size / (1 << 20));
    let route = format!("{route}?{}", announced.query());
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut tries = 0;
    loop {
        tries += 1;
        let body = chunks(path, announced.size)
            .await
            .map_err(|e| Error::io(path, e))?;
        let (signed, seq) = signer.sign_upload(&route);
        let r = client
            .put(format!("{base}/{route}"))
            .headers(extra.clone())
            .headers(signed)
            .header(reqwest::header::CONTENT_LENGTH, announced.size)
            .timeout(timeout)
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await;
        let answer = match r {
            Ok(r) => {
                let (status, headers) = (r.status(), r.headers().clone());
                super::channel::read_capped(r, super::protocol::ANSWER_LIMIT, &name)
                    .await
                    .map(|body| (status, headers, body))
            }
            Err(e) => Err(Error::Unreachable(format!("{name}: {e}"))),
        };
        match answer {
            Ok((status, headers, body)) if status.is_success() => {
                if signer.answer_holds(seq, status.as_u16(), &headers, &body) {
                    return Ok(announced);
                }
                return Err(Error::Usage(format!(
                    "{name}: the manager's answer is not signed by the session"
                )));
            }
            Ok((status, _, body)) if tries >= TRIES => {
                let why = serde_json::from_slice::<super::protocol::Refusal>(&body)
                    .map_or_else(|_| status.to_string(), |r| r.reason);
                return Err(Error::Usage(format!("{name}: {why}")));
            }
            Err(e) if tries >= TRIES => return Err(e),
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Why the manager refused an upload (nothing is left under its name). Each
/// names the file; `got` is what arrived.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)]
pub enum Refused {
    /// More or fewer bytes than announced.
    #[error("{name}: {got} bytes where {want} were announced")]
    Size { name: String, got: u64, want: u64 },
    /// The bytes do not hash to the announced checksum (both shortened).
    #[error("{name}: checksum {got} where {want} was announced")]
    Checksum {
        name: String,
        got: String,
        want: String,
    },
    /// The body broke off (a cut connection).
    #[error("{name}: the upload broke off after {got} bytes: {why}")]
    Cut { name: String, got: u64, why: String },
    /// The manager could not write it.
    #[error("{name}: {source}")]
    Io { name: String, source: io::Error },
}

impl Refused {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            Refused::Size { .. } | Refused::Checksum { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Refused::Cut { .. } => StatusCode::BAD_REQUEST,
            Refused::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Told apart, concurrent uploads of one name (a retry racing a cut one) never
/// share a temporary file.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// The temporary file, removed unless renamed: on a refusal and when the
/// handler is dropped mid-body (the connection closed).
struct Partial(Option<PathBuf>);

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The temporary file and the hash of what went into it, moved to a blocking
/// thread for each write.
struct Sink {
    file: std::fs::File,
    hash: Sha256,
}

/// Receive a body into `dir/name`: write it to a temporary file in `dir` in
/// [`CHUNK`]s as it arrives, hashing it, then rename it if its size and
/// checksum are as announced. `alive` is called at the start and after every
/// chunk written (the worker is alive while it uploads). Returns the bytes.
pub async fn receive<S, E>(
    body: S,
    dir: &Path,
    name: &str,
    announced: &Announced,
    mut alive: impl FnMut(),
) -> std::result::Result<u64, Refused>
where
    S: Stream<Item = std::result::Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let io = |source| Refused::Io {
        name: name.to_string(),
        source,
    };
    alive();
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{seq}.partial"));
    let mut partial = Partial(Some(tmp.clone()));
    let file = std::fs::File::create(&tmp).map_err(io)?;
    let mut sink = Some(Sink {
        file,
        hash: Sha256::new(),
    });
    // At most one chunk waits here for the disk: the next frame is read only
    // once the previous chunk is written.
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut got = 0u64;
    let mut body = std::pin::pin!(body);
    while let Some(frame) = body.next().await {
        let frame = frame.map_err(|e| Refused::Cut {
            name: name.to_string(),
            got,
            why: e.to_string(),
        })?;
        got += frame.len() as u64;
        if got > announced.size {
            return Err(Refused::Size {
                name: name.to_string(),
                got,
                want: announced.size,
            });
        }
        buf.extend_from_slice(&frame);
        if buf.len() >= CHUNK {
            buf = write(&mut sink, buf).await.map_err(io)?;
            alive();
        }
    }
    if !buf.is_empty() {
        write(&mut sink, buf).await.map_err(io)?;
    }
    if got != announced.size {
        return Err(Refused::Size {
            name: name.to_string(),
            got,
            want: announced.size,
        });
    }
    let Sink { file, hash } = sink.take().expect("the sink is back after each write");
    let sha256 = hex::encode(hash.finalize());
    if sha256 != announced.sha256 {
        return Err(Refused::Checksum {
            name: name.to_string(),
            got: short(&sha256).into(),
            want: short(&announced.sha256).into(),
        });
    }
    tokio::task::spawn_blocking(move || file.sync_all())
        .await
        .map_err(io::Error::other)
        .and_then(|r| r)
        .map_err(io)?;
    tokio::fs::rename(&tmp, dir.join(name)).await.map_err(io)?;
    partial.0 = None;
    Ok(got)
}

/// Hash and write one chunk on a blocking thread; the emptied buffer comes back.
async fn write(sink: &mut Option<Sink>, mut buf: Vec<u8>) -> io::Result<Vec<u8>> {
    let mut s = sink.take().expect("one write at a time");
    let (s, buf, written) = tokio::task::spawn_blocking(move || {
        s.hash.update(&buf);
        let written = s.file.write_all(&buf);
        buf.clear();
        (s, buf, written)
    })
    .await
    .map_err(io::Error::other)?;
    *sink = Some(s);
    written.map(|()| buf)
}

fn short(hex: &str) -> &str {
    &hex[..hex.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test file's bytes: not periodic in CHUNK, so a misplaced chunk shows.
    fn pattern(len: usize) -> Vec<u8> {
        let mut x: u32 = 0x9e37_79b9;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    fn announced_for(bytes: &[u8]) -> Announced {
        Announced {
            sha256: hex::encode(Sha256::digest(bytes)),
            size: bytes.len() as u64,
        }
    }

    /// The folder's entries, sorted (temporary files included).
    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn frames(bytes: &[u8], size: usize) -> Vec<std::result::Result<Bytes, String>> {
        bytes
            .chunks(size)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect()
    }

    /// `receive` of `frames` into `dir` as `name`, against `announced`.
    async fn receive_frames(
        frames: Vec<std::result::Result<Bytes, String>>,
        dir: &Path,
        name: &str,
        announced: &Announced,
    ) -> std::result::Result<u64, Refused> {
        receive(futures::stream::iter(frames), dir, name, announced, || {}).await
    }

    #[tokio::test]
    async fn the_sender_reads_a_file_in_chunks_of_at_most_chunk_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.csv");
        let bytes = pattern(5 * CHUNK + 1234);
        std::fs::write(&path, &bytes).unwrap();
        let announced = announce(&path).await.unwrap();
        assert_eq!(announced, announced_for(&bytes));
        let stream = chunks(&path, announced.size).await.unwrap();
        let got: Vec<Bytes> = stream.map(|c| c.unwrap()).collect().await;
        assert!(got.len() >= 6, "{} chunks", got.len());
        assert!(got.iter().all(|c| !c.is_empty() && c.len() <= CHUNK));
        assert_eq!(got.concat(), bytes);
        // A file grown since its announcement is sent as announced.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"more")
            .unwrap();
        let stream = chunks(&path, announced.size).await.unwrap();
        let got: Vec<Bytes> = stream.map(|c| c.unwrap()).collect().await;
        assert_eq!(got.concat(), bytes);
    }

    #[tokio::test]
    async fn a_body_is_written_under_its_name_once_checked() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = pattern(3 * CHUNK + 77);
        let mut calls = 0;
        let n = receive(
            futures::stream::iter(frames(&bytes, 8192)),
            dir.path(),
            "requests.csv",
            &announced_for(&bytes),
            || calls += 1,
        )
        .await
        .unwrap();
        assert_eq!(n, bytes.len() as u64);
        assert_eq!(
            std::fs::read(dir.path().join("requests.csv")).unwrap(),
            bytes
        );
        assert_eq!(entries(dir.path()), ["requests.csv"]);
        // Once at the start, then after each of the three full chunks (frames divide CHUNK).
        assert_eq!(calls, 4);
    }

    /// The receiver holds at most a chunk and a frame in memory: each time it
    /// asks for the next frame, all but that much of what it was given is
    /// already in the temporary file.
    #[tokio::test]
    async fn the_receiver_writes_as_it_reads() {
        const FRAME: usize = 48 * 1024;
        let dir = tempfile::tempdir().unwrap();
        let bytes = pattern(12 * CHUNK + 5);
        let given = std::sync::Arc::new(AtomicU64::new(0));
        let d = dir.path().to_path_buf();
        let g = given.clone();
        let body = futures::stream::iter(frames(&bytes, FRAME)).inspect(move |f| {
            let on_disk: u64 = std::fs::read_dir(&d)
                .unwrap()
                .map(|e| e.unwrap())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
                .map(|e| e.metadata().unwrap().len())
                .sum();
            let before = g.fetch_add(f.as_ref().unwrap().len() as u64, Ordering::SeqCst);
            let lag = before - on_disk;
            assert!(
                lag < (CHUNK + FRAME) as u64,
                "{lag} bytes received but not written"
            );
        });
        receive(body, dir.path(), "big", &announced_for(&bytes), || {})
            .await
            .unwrap();
        assert_eq!(given.load(Ordering::SeqCst), bytes.len() as u64);
        assert_eq!(std::fs::read(dir.path().join("big")).unwrap(), bytes);
    }

    #[tokio::test]
    async fn a_corrupted_or_short_or_long_body_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = pattern(2 * CHUNK + 3);
        let announced = announced_for(&bytes);
        // One byte flipped.
        let mut bad = bytes.clone();
        bad[CHUNK + 1] ^= 1;
        let e = receive_frames(frames(&bad, 4096), dir.path(), "a.csv", &announced)
            .await
            .unwrap_err();
        assert!(matches!(e, Refused::Checksum { .. }), "{e}");
        assert_eq!(e.status(), 422);
        // Truncated.
        let e = receive_frames(
            frames(&bytes[..CHUNK], 4096),
            dir.path(),
            "a.csv",
            &announced,
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("a.csv: {CHUNK} bytes where {} were announced", bytes.len())
        );
        // Longer than announced: refused at the first byte too many.
        let mut long = bytes.clone();
        long.extend_from_slice(&pattern(CHUNK));
        let e = receive_frames(frames(&long, 4096), dir.path(), "a.csv", &announced)
            .await
            .unwrap_err();
        assert!(
            matches!(e, Refused::Size { got, .. } if got == bytes.len() as u64 + 4096 - (bytes.len() as u64 % 4096)),
            "{e}"
        );
        // Broken off (the connection cut).
        let mut cut = frames(&bytes[..CHUNK + 100], 4096);
        cut.push(Err("connection reset".into()));
        let e = receive_frames(cut, dir.path(), "a.csv", &announced)
            .await
            .unwrap_err();
        assert!(matches!(e, Refused::Cut { .. }), "{e}");
        assert_eq!(e.status(), 400);
        assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
    }

    #[tokio::test]
    async fn a_refused_body_keeps_the_file_already_there() {
        let dir = tempfile::tempdir().unwrap();
        let good = pattern(CHUNK + 9);
        let announced = announced_for(&good);
        receive_frames(frames(&good, 8192), dir.path(), "run.json", &announced)
            .await
            .unwrap();
        let mut bad = good.clone();
        bad[0] ^= 0xff;
        receive_frames(frames(&bad, 8192), dir.path(), "run.json", &announced)
            .await
            .unwrap_err();
        assert_eq!(std::fs::read(dir.path().join("run.json")).unwrap(), good);
        assert_eq!(entries(dir.path()), ["run.json"]);
    }

    /// A handler dropped mid-body (hyper drops it when the connection goes)
    /// takes its temporary file with it.
    #[tokio::test]
    async fn a_receiver_dropped_mid_body_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = pattern(3 * CHUNK);
        let announced = announced_for(&bytes);
        let (tx, rx) = futures::channel::mpsc::unbounded::<std::result::Result<Bytes, String>>();
        for f in frames(&bytes[..2 * CHUNK], 8192) {
            tx.unbounded_send(f).unwrap();
        }
        // The rest never comes: stop waiting once the first chunks are on disk.
        let d = dir.path().to_path_buf();
        let mut receiving = Box::pin(receive(rx, &d, "a.csv", &announced, || {}));
        let mut on_disk = 0;
        for _ in 0..500 {
            tokio::select! {
                r = &mut receiving => panic!("finished without its bytes: {r:?}"),
                _ = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
            on_disk = std::fs::read_dir(&d)
                .unwrap()
                .map(|e| e.unwrap().metadata().unwrap().len())
                .sum::<u64>();
            if on_disk >= 2 * CHUNK as u64 {
                break;
            }
        }
        assert_eq!(on_disk, 2 * CHUNK as u64);
        drop(receiving);
        assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
        drop(tx);
    }
}
