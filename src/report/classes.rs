//! Which request classes viewers cause, and which are HTTP calls.

use crate::runfolder::RequestClass;

/// True for the classes viewers cause (everything but the sync job's steps).
pub fn is_viewer_class(class: RequestClass) -> bool {
    !matches!(
        class,
        RequestClass::SyncFetch
            | RequestClass::SyncTransform
            | RequestClass::IngestBatch
            | RequestClass::IngestFreshness
            | RequestClass::SyncRun
    )
}

/// Whether rows of `class` are HTTP calls, for logs whose rows do not say
/// (see `load.rs`): dashboard loads, transforms, freshness lags and sync runs
/// are operations dashload times, not calls a server answered.
pub fn is_http_class(class: RequestClass) -> bool {
    !matches!(
        class,
        RequestClass::DashboardLoad
            | RequestClass::SyncTransform
            | RequestClass::IngestFreshness
            | RequestClass::SyncRun
    )
}
