//! Typed upstream APIs with defaults and validation.
