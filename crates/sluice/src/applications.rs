//! The Argo CD Application controller of `sluice serve` (`sluice_kube::application`) and
//! where its repositories come from.

use std::sync::Arc;

use sluice_kube::application::{AppOptions, Sources, local::LocalSources};

/// The controller's options. Repositories: local directories (`file:///path`) until git
/// lands; sluice-git replaces the one line below.
pub fn options() -> AppOptions {
    let sources: Arc<dyn Sources> = Arc::new(LocalSources::from_env());
    AppOptions::new(sources)
}
