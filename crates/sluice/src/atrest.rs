//! The flags of `sluice apiserver` / `sluice serve` for Secrets at rest and the audit log
//! (kube-apiserver's names and defaults).

use std::path::PathBuf;

use clap::Args;

/// Encryption at rest and auditing (kube-apiserver's flags).
#[derive(Debug, Clone, Default, Args)]
pub struct AtRestFlags {
    /// An apiserver.config.k8s.io/v1 EncryptionConfiguration: the resources it lists
    /// (secrets...) are stored encrypted (aesgcm, secretbox; identity reads plaintext). The
    /// first provider's first key encrypts; every listed key decrypts.
    #[arg(long, value_name = "FILE")]
    pub encryption_provider_config: Option<PathBuf>,
    /// Write audit events to FILE as JSON lines (`-`: stdout). Needs --audit-policy-file
    /// (without one nothing is logged, as kube-apiserver).
    #[arg(long, value_name = "FILE")]
    pub audit_log_path: Option<PathBuf>,
    /// An audit.k8s.io/v1 Policy: which requests are logged, at which level.
    #[arg(long, value_name = "FILE")]
    pub audit_policy_file: Option<PathBuf>,
    /// Megabytes of the audit log before it is rotated (0: 100).
    #[arg(long, value_name = "MB", default_value_t = 0)]
    pub audit_log_maxsize: u64,
    /// Rotated audit logs kept (0: all).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub audit_log_maxbackup: usize,
    /// Days a rotated audit log is kept (0: forever).
    #[arg(long, value_name = "DAYS", default_value_t = 0)]
    pub audit_log_maxage: u64,
}

impl AtRestFlags {
    /// Sets the server options these flags name.
    pub fn apply(&self, o: &mut sluice_apiserver::Options) {
        o.encryption_provider_config = self.encryption_provider_config.clone();
        o.audit = Some(sluice_apiserver::audit_log::AuditOptions {
            log_path: self.audit_log_path.clone(),
            policy_file: self.audit_policy_file.clone(),
            max_size_mb: self.audit_log_maxsize,
            max_backups: self.audit_log_maxbackup,
            max_age_days: self.audit_log_maxage,
        });
    }
}
