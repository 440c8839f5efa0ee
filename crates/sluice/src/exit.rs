//! Exit codes, documented in `--help` and docs/cli.md.

/// Success (warnings allowed).
pub const OK: u8 = 0;
/// The command ran and found errors (validation errors, a failed run).
pub const FINDINGS: u8 = 1;
/// Usage error or I/O error (bad flags, unreadable file, unparsable input path).
pub const USAGE: u8 = 2;

pub const EXIT_CODES_HELP: &str =
    "Exit codes: 0 success (warnings allowed), 1 errors found, 2 usage or I/O error.";
