//! The run over time, in equal buckets: requests, failures, points and
//! latency per bucket (the charts over time and the fault windows read it).

use serde::{Deserialize, Serialize};

use crate::runfolder::RequestClass;

use super::latency::Latency;

/// The run over time, in equal buckets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Bucket width, ms.
    pub bucket_ms: u64,
    /// Buckets from time 0.
    pub buckets: Vec<SeriesBucket>,
    /// Goose's own users per second, when its graph data was available: `(second, users)`.
    pub goose_users: Vec<(u64, u64)>,
}

/// One time bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesBucket {
    /// Successful requests.
    pub ok: u64,
    /// Failed requests.
    pub failed: u64,
    /// Failures by kind (in `ErrorKind::ALL` order).
    pub errors: Vec<u64>,
    /// Points written by successful batches.
    pub points: u64,
    /// Latency per class present.
    pub classes: Vec<(RequestClass, Latency)>,
}
