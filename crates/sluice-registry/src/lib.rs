//! `sluice-registry`: an OCI Distribution Spec v1.1 registry (the seed's Harbor for one
//! machine). A pure core (`reference`, `route`, `manifest`, `auth`, `error`), the
//! content-addressed disk store (`store`) and the axum edge (`http`), which the binary
//! mounts at `/v2` beside the API server.

pub mod auth;
pub mod error;
pub mod helm;
pub mod http;
pub mod manifest;
pub mod reference;
pub mod route;
pub mod store;

pub use auth::Auth;
pub use error::{Code, Error};
pub use http::{Options, Registry};
pub use reference::Digest;
pub use store::{GcStats, Store};
